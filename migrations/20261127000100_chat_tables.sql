-- The chat's tables: profiles, chatrooms, chatroom_members, messages; RLS on every one.

create schema if not exists chat_private;
grant usage on schema chat_private to authenticated, service_role;

create table public.profiles (
  id uuid primary key default gen_random_uuid(),
  username text not null unique check (username ~ '^[a-z0-9_]{3,32}$'),
  display_name text not null check (char_length(display_name) between 1 and 64),
  avatar_url text check (char_length(avatar_url) <= 2048),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

-- On Supabase a profile belongs to an auth user and goes with it.
do $$
begin
  if pg_catalog.to_regclass('auth.users') is not null then
    alter table public.profiles
      add constraint profiles_id_auth_users_fkey foreign key (id) references auth.users (id) on delete cascade;
  end if;
end
$$;

create table public.chatrooms (
  id uuid primary key default gen_random_uuid(),
  name text not null check (char_length(name) between 1 and 100),
  visibility text not null default 'private' check (visibility in ('private', 'public')),
  owner_id uuid not null references public.profiles (id) on delete cascade,
  ai_mode text not null default 'always' check (ai_mode in ('off', 'mention', 'always')),
  ai_system_prompt text check (char_length(ai_system_prompt) <= 4000),
  ai_model text check (char_length(ai_model) <= 100),
  -- The gapless per-room counter: taken (row-locked) in the transaction that stores a message.
  last_seq bigint not null default 0,
  last_activity_at timestamptz not null default now(),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index chatrooms_owner_idx on public.chatrooms (owner_id);
create index chatrooms_public_activity_idx on public.chatrooms (last_activity_at desc) where visibility = 'public';

create table public.chatroom_members (
  chatroom_id uuid not null references public.chatrooms (id) on delete cascade,
  profile_id uuid not null references public.profiles (id) on delete cascade,
  role text not null check (role in ('owner', 'member')),
  joined_at timestamptz not null default now(),
  primary key (chatroom_id, profile_id)
);
create index chatroom_members_profile_idx on public.chatroom_members (profile_id, chatroom_id);

create table public.messages (
  id uuid primary key default gen_random_uuid(),
  chatroom_id uuid not null references public.chatrooms (id) on delete cascade,
  seq bigint not null check (seq > 0),
  role text not null check (role in ('user', 'assistant', 'system')),
  sender_id uuid references public.profiles (id) on delete set null,
  content text not null check (char_length(content) <= 200000),
  status text not null default 'complete'
    check (status in ('complete', 'streaming', 'truncated', 'failed', 'cancelled')),
  client_id text check (client_id ~ '^[A-Za-z0-9_-]{1,64}$'),
  reply_to_id uuid references public.messages (id) on delete set null,
  error_code text,
  error_message text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint messages_room_seq_key unique (chatroom_id, seq),
  constraint messages_idempotency_key unique (chatroom_id, sender_id, client_id)
);
create index messages_reply_to_idx on public.messages (reply_to_id) where reply_to_id is not null;
create index messages_sender_idx on public.messages (sender_id);

-- Local sign-in (the embedded default): password hashes, never exposed to any client role.
create table chat_private.local_credentials (
  profile_id uuid primary key references public.profiles (id) on delete cascade,
  password_hash text not null
);

-- Membership tests for policies: security definer so they do not recurse into the members policy.
create function chat_private.is_member(p_room_id uuid) returns boolean
  language sql stable security definer set search_path = ''
  as $$
    select exists (
      select 1 from public.chatroom_members m
      where m.chatroom_id = p_room_id and m.profile_id = (select auth.uid())
    )
  $$;

create function chat_private.is_owner(p_room_id uuid) returns boolean
  language sql stable security definer set search_path = ''
  as $$
    select exists (
      select 1 from public.chatrooms c
      where c.id = p_room_id and c.owner_id = (select auth.uid())
    )
  $$;

revoke all on function chat_private.is_member(uuid), chat_private.is_owner(uuid) from public;
grant execute on function chat_private.is_member(uuid), chat_private.is_owner(uuid) to authenticated, service_role;

alter table public.profiles enable row level security;
alter table public.chatrooms enable row level security;
alter table public.chatroom_members enable row level security;
alter table public.messages enable row level security;
alter table chat_private.local_credentials enable row level security;

revoke all on public.profiles, public.chatrooms, public.chatroom_members, public.messages from anon;
-- Column grants: a client writes what a person may set, never counters, ownership or timestamps,
-- even with a direct table write (on Supabase, PostgREST exposes the tables to every signed-in user).
revoke all on public.profiles, public.chatrooms, public.chatroom_members, public.messages from authenticated;
grant select on public.profiles, public.chatrooms, public.chatroom_members, public.messages to authenticated;
grant insert (id, username, display_name, avatar_url) on public.profiles to authenticated;
grant update (display_name, avatar_url, updated_at) on public.profiles to authenticated;
grant insert (name, visibility, owner_id, ai_mode, ai_system_prompt, ai_model) on public.chatrooms to authenticated;
grant update (name, visibility, ai_mode, ai_system_prompt, ai_model, updated_at) on public.chatrooms to authenticated;
grant delete on public.chatrooms to authenticated;
grant insert (chatroom_id, profile_id, role) on public.chatroom_members to authenticated;
grant delete on public.chatroom_members to authenticated;
grant insert (chatroom_id, sender_id, content, client_id) on public.messages to authenticated;
grant all on public.profiles, public.chatrooms, public.chatroom_members, public.messages to service_role;
grant all on chat_private.local_credentials to service_role;

-- profiles: any signed-in caller reads profiles; each writes only their own.
create policy profiles_select on public.profiles for select to authenticated using (true);
create policy profiles_insert on public.profiles for insert to authenticated
  with check (id = (select auth.uid()));
create policy profiles_update on public.profiles for update to authenticated
  using (id = (select auth.uid())) with check (id = (select auth.uid()));

-- chatrooms: public rooms are visible to every signed-in caller, private ones to their members.
create policy chatrooms_select on public.chatrooms for select to authenticated
  using (visibility = 'public' or owner_id = (select auth.uid()) or chat_private.is_member(id));
create policy chatrooms_insert on public.chatrooms for insert to authenticated
  with check (owner_id = (select auth.uid()));
create policy chatrooms_update on public.chatrooms for update to authenticated
  using (owner_id = (select auth.uid())) with check (owner_id = (select auth.uid()));
create policy chatrooms_delete on public.chatrooms for delete to authenticated
  using (owner_id = (select auth.uid()));

-- chatroom_members: members see the member list; one joins a public room as themselves, the owner adds anyone;
-- a member leaves, the owner removes.
create policy members_select on public.chatroom_members for select to authenticated
  using (chat_private.is_member(chatroom_id));
create policy members_insert on public.chatroom_members for insert to authenticated
  with check (
    (chat_private.is_owner(chatroom_id) and (role = 'member' or profile_id = (select auth.uid())))
    or (
      profile_id = (select auth.uid())
      and role = 'member'
      and exists (select 1 from public.chatrooms c where c.id = chatroom_id and c.visibility = 'public')
    )
  );
create policy members_delete on public.chatroom_members for delete to authenticated
  using (profile_id = (select auth.uid()) or chat_private.is_owner(chatroom_id));

-- messages: members read their rooms; a member writes user messages as themselves only.
create policy messages_select on public.messages for select to authenticated
  using (chat_private.is_member(chatroom_id));
create policy messages_insert on public.messages for insert to authenticated
  with check (
    sender_id = (select auth.uid()) and role = 'user' and chat_private.is_member(chatroom_id)
  );
