-- The data operations, one SQL function each. Every driver calls these, as the caller
-- (role `authenticated`, auth.uid() = the caller) so RLS applies, or as `service_role`.
-- Errors use our own SQLSTATEs: CH400 invalid, CH401 no caller, CH403 forbidden, CH404 not found / not visible.

create function chat_private.require_uid() returns uuid
  language plpgsql stable set search_path = ''
  as $$
  declare
    v_uid uuid := auth.uid();
  begin
    if v_uid is null then
      raise exception using errcode = 'CH401', message = 'No signed-in caller';
    end if;
    return v_uid;
  end
  $$;

-- Takes the room's next seq: the row lock it takes is held until the transaction ends, so sends
-- into one room are serialized and seq has no gaps (a rolled back send rolls its number back too).
create function chat_private.next_seq(p_room_id uuid) returns bigint
  language plpgsql security definer set search_path = ''
  as $$
  declare
    v_seq bigint;
  begin
    if coalesce(auth.role(), '') <> 'service_role' and not chat_private.is_member(p_room_id) then
      raise exception using errcode = 'CH404', message = 'Room not found';
    end if;
    update public.chatrooms
      set last_seq = last_seq + 1, last_activity_at = now()
      where id = p_room_id
      returning last_seq into v_seq;
    if v_seq is null then
      raise exception using errcode = 'CH404', message = 'Room not found';
    end if;
    return v_seq;
  end
  $$;

revoke all on function chat_private.require_uid(), chat_private.next_seq(uuid) from public;
grant execute on function chat_private.require_uid(), chat_private.next_seq(uuid) to authenticated, service_role;

-- Every stored message takes its seq here, whoever inserts it and however: a client's direct insert
-- (which RLS allows for a member writing as themselves) can neither choose its seq nor pose as anything
-- but a complete user message.
create function chat_private.assign_message_seq() returns trigger
  language plpgsql security definer set search_path = ''
  as $$
  begin
    new.seq := chat_private.next_seq(new.chatroom_id);
    if coalesce(auth.role(), '') <> 'service_role' then
      new.role := 'user';
      new.status := 'complete';
      new.reply_to_id := null;
      new.error_code := null;
      new.error_message := null;
    end if;
    new.created_at := now();
    new.updated_at := new.created_at;
    return new;
  end
  $$;

revoke all on function chat_private.assign_message_seq() from public;

create trigger messages_assign_seq before insert on public.messages
  for each row execute function chat_private.assign_message_seq();

-- A room as its caller sees it: with their role in it (null for a stranger to a public room).
create type public.room_row as (
  id uuid,
  name text,
  visibility text,
  owner_id uuid,
  ai_mode text,
  ai_system_prompt text,
  ai_model text,
  last_seq bigint,
  last_activity_at timestamptz,
  created_at timestamptz,
  updated_at timestamptz,
  my_role text
);

create function chat_private.room_view(r public.chatrooms) returns public.room_row
  language sql stable set search_path = ''
  as $$
    select r.id, r.name, r.visibility, r.owner_id, r.ai_mode, r.ai_system_prompt, r.ai_model, r.last_seq,
           r.last_activity_at, r.created_at, r.updated_at,
           (select m.role from public.chatroom_members m
             where m.chatroom_id = r.id and m.profile_id = (select auth.uid()))
  $$;

-- A visible room or CH404.
create function chat_private.visible_room(p_room_id uuid) returns public.chatrooms
  language plpgsql stable set search_path = ''
  as $$
  declare
    r public.chatrooms;
  begin
    select * into r from public.chatrooms c where c.id = p_room_id;
    if not found then
      raise exception using errcode = 'CH404', message = 'Room not found';
    end if;
    return r;
  end
  $$;

-- A room the caller is a member of, or CH404 (public rooms included: their content is for members).
create function chat_private.member_room(p_room_id uuid) returns public.chatrooms
  language plpgsql stable set search_path = ''
  as $$
  declare
    r public.chatrooms;
  begin
    r := chat_private.visible_room(p_room_id);
    if not chat_private.is_member(p_room_id) then
      raise exception using errcode = 'CH404', message = 'Room not found';
    end if;
    return r;
  end
  $$;

-- A room the caller owns: CH404 when they cannot see it, CH403 when they can but do not own it.
create function chat_private.owned_room(p_room_id uuid) returns public.chatrooms
  language plpgsql stable set search_path = ''
  as $$
  declare
    r public.chatrooms;
  begin
    r := chat_private.visible_room(p_room_id);
    if r.owner_id is distinct from auth.uid() then
      raise exception using errcode = 'CH403', message = 'Only the room''s owner can do that';
    end if;
    return r;
  end
  $$;

grant execute on all functions in schema chat_private to authenticated, service_role;

---------------------------------------------------------------- profiles and local sign-in

create function public.local_register(p_username text, p_display_name text, p_password_hash text)
  returns setof public.profiles
  language plpgsql set search_path = ''
  as $$
  declare
    v public.profiles;
  begin
    insert into public.profiles (username, display_name) values (p_username, p_display_name) returning * into v;
    insert into chat_private.local_credentials (profile_id, password_hash) values (v.id, p_password_hash);
    return next v;
  end
  $$;

-- The profile and password hash for a username, for the server to check a sign-in.
create function public.local_sign_in(p_username text)
  returns table (id uuid, username text, display_name text, avatar_url text, created_at timestamptz, password_hash text)
  language sql stable set search_path = ''
  as $$
    select p.id, p.username, p.display_name, p.avatar_url, p.created_at, c.password_hash
    from public.profiles p join chat_private.local_credentials c on c.profile_id = p.id
    where p.username = p_username
  $$;

-- Service only (Supabase grants new functions to anon and authenticated by default).
revoke all on function public.local_register(text, text, text), public.local_sign_in(text)
  from public, anon, authenticated;
grant execute on function public.local_register(text, text, text), public.local_sign_in(text) to service_role;

create function public.get_profile(p_profile_id uuid) returns setof public.profiles
  language plpgsql stable set search_path = ''
  as $$
  begin
    perform chat_private.require_uid();
    return query select * from public.profiles p where p.id = p_profile_id;
    if not found then
      raise exception using errcode = 'CH404', message = 'Profile not found';
    end if;
  end
  $$;

-- p_patch holds only the fields to change: display_name, avatar_url (null clears it).
create function public.update_my_profile(p_patch jsonb) returns setof public.profiles
  language plpgsql set search_path = ''
  as $$
  declare
    v_uid uuid := chat_private.require_uid();
  begin
    return query
      update public.profiles p set
        display_name = case when p_patch ? 'display_name' then p_patch ->> 'display_name' else p.display_name end,
        avatar_url = case when p_patch ? 'avatar_url' then p_patch ->> 'avatar_url' else p.avatar_url end,
        updated_at = now()
      where p.id = v_uid
      returning p.*;
    if not found then
      raise exception using errcode = 'CH404', message = 'Profile not found';
    end if;
  end
  $$;

---------------------------------------------------------------- rooms

create function public.create_room(
  p_name text, p_visibility text, p_ai_mode text, p_ai_system_prompt text, p_ai_model text
) returns setof public.room_row
  language plpgsql set search_path = ''
  as $$
  declare
    v_uid uuid := chat_private.require_uid();
    r public.chatrooms;
  begin
    insert into public.chatrooms (name, visibility, owner_id, ai_mode, ai_system_prompt, ai_model)
      values (p_name, coalesce(p_visibility, 'private'), v_uid, coalesce(p_ai_mode, 'always'), p_ai_system_prompt, p_ai_model)
      returning * into r;
    insert into public.chatroom_members (chatroom_id, profile_id, role) values (r.id, v_uid, 'owner');
    return query select v.* from chat_private.room_view(r) v;
  end
  $$;

create function public.list_my_rooms() returns setof public.room_row
  language plpgsql stable set search_path = ''
  as $$
  declare
    v_uid uuid := chat_private.require_uid();
  begin
    return query
      select v.*
      from public.chatroom_members m
      join public.chatrooms c on c.id = m.chatroom_id
      cross join lateral chat_private.room_view(c) v
      where m.profile_id = v_uid
      order by c.last_activity_at desc, c.created_at desc, c.id;
  end
  $$;

-- p_query is plain text (no wildcards), matched in any case.
create function public.list_public_rooms(p_query text, p_limit integer) returns setof public.room_row
  language plpgsql stable set search_path = ''
  as $$
  begin
    perform chat_private.require_uid();
    return query
      select v.*
      from public.chatrooms c
      cross join lateral chat_private.room_view(c) v
      where c.visibility = 'public'
        and (coalesce(p_query, '') = '' or strpos(lower(c.name), lower(p_query)) > 0)
      order by c.last_activity_at desc, c.created_at desc, c.id
      limit least(greatest(coalesce(p_limit, 50), 1), 100);
  end
  $$;

create function public.get_room(p_room_id uuid) returns setof public.room_row
  language plpgsql stable set search_path = ''
  as $$
  begin
    perform chat_private.require_uid();
    return query select v.* from chat_private.room_view(chat_private.visible_room(p_room_id)) v;
  end
  $$;

-- p_patch holds only the fields to change: name, visibility, ai_mode, ai_system_prompt, ai_model.
create function public.update_room(p_room_id uuid, p_patch jsonb) returns setof public.room_row
  language plpgsql set search_path = ''
  as $$
  declare
    r public.chatrooms;
  begin
    perform chat_private.require_uid();
    perform chat_private.owned_room(p_room_id);
    update public.chatrooms c set
      name = case when p_patch ? 'name' then p_patch ->> 'name' else c.name end,
      visibility = case when p_patch ? 'visibility' then p_patch ->> 'visibility' else c.visibility end,
      ai_mode = case when p_patch ? 'ai_mode' then p_patch ->> 'ai_mode' else c.ai_mode end,
      ai_system_prompt = case when p_patch ? 'ai_system_prompt' then p_patch ->> 'ai_system_prompt' else c.ai_system_prompt end,
      ai_model = case when p_patch ? 'ai_model' then p_patch ->> 'ai_model' else c.ai_model end,
      updated_at = now()
    where c.id = p_room_id
    returning * into r;
    return query select v.* from chat_private.room_view(r) v;
  end
  $$;

create function public.delete_room(p_room_id uuid) returns void
  language plpgsql set search_path = ''
  as $$
  begin
    perform chat_private.require_uid();
    perform chat_private.owned_room(p_room_id);
    delete from public.chatrooms c where c.id = p_room_id;
  end
  $$;

-- Public rooms only (a private room is CH404 even to a stranger who knows its id); joining twice is fine.
create function public.join_room(p_room_id uuid) returns setof public.room_row
  language plpgsql set search_path = ''
  as $$
  declare
    v_uid uuid := chat_private.require_uid();
    r public.chatrooms := chat_private.visible_room(p_room_id);
  begin
    if r.visibility <> 'public' and not chat_private.is_member(p_room_id) then
      raise exception using errcode = 'CH404', message = 'Room not found';
    end if;
    -- No ON CONFLICT: it would check the new row against the members' SELECT policy, which a joiner
    -- does not pass yet. A concurrent second join of the same caller is caught instead.
    if not chat_private.is_member(p_room_id) then
      begin
        insert into public.chatroom_members (chatroom_id, profile_id, role) values (p_room_id, v_uid, 'member');
      exception
        when unique_violation then
          null;
      end;
    end if;
    return query select v.* from chat_private.room_view(r) v;
  end
  $$;

create function public.leave_room(p_room_id uuid) returns void
  language plpgsql set search_path = ''
  as $$
  declare
    v_uid uuid := chat_private.require_uid();
    r public.chatrooms := chat_private.member_room(p_room_id);
  begin
    if r.owner_id = v_uid then
      raise exception using errcode = 'CH403', message = 'The owner cannot leave the room';
    end if;
    delete from public.chatroom_members m where m.chatroom_id = p_room_id and m.profile_id = v_uid;
  end
  $$;

---------------------------------------------------------------- members

create type public.member_row as (
  profile_id uuid,
  username text,
  display_name text,
  avatar_url text,
  profile_created_at timestamptz,
  role text,
  joined_at timestamptz
);

create function public.list_members(p_room_id uuid) returns setof public.member_row
  language plpgsql stable set search_path = ''
  as $$
  begin
    perform chat_private.require_uid();
    perform chat_private.member_room(p_room_id);
    return query
      select p.id, p.username, p.display_name, p.avatar_url, p.created_at, m.role, m.joined_at
      from public.chatroom_members m join public.profiles p on p.id = m.profile_id
      where m.chatroom_id = p_room_id
      order by m.joined_at, p.username;
  end
  $$;

create function public.add_member(p_room_id uuid, p_username text) returns setof public.member_row
  language plpgsql set search_path = ''
  as $$
  declare
    p public.profiles;
    m public.chatroom_members;
  begin
    perform chat_private.require_uid();
    perform chat_private.member_room(p_room_id);
    perform chat_private.owned_room(p_room_id);
    select * into p from public.profiles x where x.username = p_username;
    if not found then
      raise exception using errcode = 'CH404', message = 'No user with that username';
    end if;
    insert into public.chatroom_members (chatroom_id, profile_id, role)
      values (p_room_id, p.id, 'member')
      returning * into m;
    return query select p.id, p.username, p.display_name, p.avatar_url, p.created_at, m.role, m.joined_at;
  exception
    when unique_violation then
      raise exception using errcode = 'CH409', message = 'That user is already a member';
  end
  $$;

-- The owner removes anyone but themselves; a member removes only themselves.
create function public.remove_member(p_room_id uuid, p_profile_id uuid) returns void
  language plpgsql set search_path = ''
  as $$
  declare
    v_uid uuid := chat_private.require_uid();
    r public.chatrooms := chat_private.member_room(p_room_id);
  begin
    if p_profile_id is distinct from v_uid and r.owner_id is distinct from v_uid then
      raise exception using errcode = 'CH403', message = 'Only the room''s owner can remove other members';
    end if;
    if p_profile_id = r.owner_id then
      raise exception using errcode = 'CH403', message = 'The owner cannot leave the room';
    end if;
    delete from public.chatroom_members m where m.chatroom_id = p_room_id and m.profile_id = p_profile_id;
    if not found then
      raise exception using errcode = 'CH404', message = 'Member not found';
    end if;
  end
  $$;

---------------------------------------------------------------- messages

create type public.posted_message as (
  id uuid,
  chatroom_id uuid,
  seq bigint,
  role text,
  sender_id uuid,
  content text,
  status text,
  client_id text,
  reply_to_id uuid,
  error_code text,
  error_message text,
  created_at timestamptz,
  updated_at timestamptz,
  duplicate boolean,
  room_ai_mode text
);

-- Stores a user message as the caller with the room's next seq. Idempotent on (room, sender, client id):
-- a repeat returns the stored message with duplicate = true and stores nothing.
create function public.post_message(p_room_id uuid, p_content text, p_client_id text)
  returns setof public.posted_message
  language plpgsql set search_path = ''
  as $$
  declare
    v_uid uuid := chat_private.require_uid();
    v public.messages;
    v_constraint text;
  begin
    if not chat_private.is_member(p_room_id) then
      raise exception using errcode = 'CH404', message = 'Room not found';
    end if;
    if p_client_id is not null then
      return query select m.*, true, null::text from public.messages m
        where m.chatroom_id = p_room_id and m.sender_id = v_uid and m.client_id = p_client_id;
      if found then
        return;
      end if;
    end if;
    begin
      -- The seq comes from the insert trigger, under the room's row lock.
      insert into public.messages (chatroom_id, sender_id, content, client_id)
        values (p_room_id, v_uid, p_content, p_client_id)
        returning * into v;
    exception
      when unique_violation then
        get stacked diagnostics v_constraint = constraint_name;
        if v_constraint is distinct from 'messages_idempotency_key' then
          raise;
        end if;
        -- A concurrent send with the same client id committed first; this block's seq is rolled back with it.
        return query select m.*, true, null::text from public.messages m
          where m.chatroom_id = p_room_id and m.sender_id = v_uid and m.client_id = p_client_id;
        return;
    end;
    -- The room's AI mode tells the server whether this message asks for a reply.
    return query select v.*, false, (select c.ai_mode from public.chatrooms c where c.id = p_room_id);
  end
  $$;

-- A page of a room's messages, ascending seq, up to p_limit + 1 rows (the extra one tells there is more):
-- with p_after_seq the oldest page above it, else the newest page below p_before_seq (or the newest page).
create function public.list_messages(p_room_id uuid, p_after_seq bigint, p_before_seq bigint, p_limit integer)
  returns setof public.messages
  language plpgsql stable set search_path = ''
  as $$
  declare
    v_limit integer := least(greatest(coalesce(p_limit, 50), 1), 100) + 1;
  begin
    perform chat_private.require_uid();
    perform chat_private.member_room(p_room_id);
    if p_after_seq is not null then
      return query
        select * from public.messages m
        where m.chatroom_id = p_room_id and m.seq > p_after_seq
          and (p_before_seq is null or m.seq < p_before_seq)
        order by m.seq asc
        limit v_limit;
    else
      return query
        select * from (
          select * from public.messages m
          where m.chatroom_id = p_room_id and (p_before_seq is null or m.seq < p_before_seq)
          order by m.seq desc
          limit v_limit
        ) page
        order by page.seq asc;
    end if;
  end
  $$;

-- The caller's own message in a room by its client id (a retried send), if stored.
create function public.find_my_message(p_room_id uuid, p_client_id text) returns setof public.messages
  language plpgsql stable set search_path = ''
  as $$
  declare
    v_uid uuid := chat_private.require_uid();
  begin
    return query select * from public.messages m
      where m.chatroom_id = p_room_id and m.sender_id = v_uid and m.client_id = p_client_id;
  end
  $$;
