-- Read state: each member's read pointer in each of their rooms (the highest seq they have read), their own
-- settings for the room (muted), and the room's setting that shows members' pointers to each other (read
-- receipts). A Room as its member sees it gains its last message, the caller's pointer and unread count.
--
-- The pointers live in their own table, not on chatroom_members, because members read the member list: a
-- member sees only their own row here, whatever the room's setting. Receipts reach the others as events,
-- which the server sends only while the room's read_receipts is on.

create table public.room_reads (
  chatroom_id uuid not null,
  profile_id uuid not null,
  -- Every message with seq <= last_read_seq counts as read. Forward only, and never past the room's last_seq:
  -- the trigger below holds both, for every writer.
  last_read_seq bigint not null default 0 check (last_read_seq >= 0),
  -- No push notifications for this room (the member's own choice).
  muted boolean not null default false,
  updated_at timestamptz not null default now(),
  primary key (chatroom_id, profile_id),
  foreign key (chatroom_id, profile_id)
    references public.chatroom_members (chatroom_id, profile_id) on delete cascade
);
create index room_reads_profile_idx on public.room_reads (profile_id, chatroom_id);

alter table public.chatrooms add column read_receipts boolean not null default true;

alter table public.room_reads enable row level security;
-- A member reads and moves only their own pointer; the row comes and goes with the membership.
create policy room_reads_select on public.room_reads for select to authenticated
  using (profile_id = (select auth.uid()));
create policy room_reads_update on public.room_reads for update to authenticated
  using (profile_id = (select auth.uid())) with check (profile_id = (select auth.uid()));
revoke all on public.room_reads from public, anon, authenticated;
grant select on public.room_reads to authenticated;
grant update (last_read_seq, muted) on public.room_reads to authenticated;
grant all on public.room_reads to service_role;
grant update (read_receipts) on public.chatrooms to authenticated;

-- A new member has read what the room held when they joined (history is not news to them).
create function chat_private.create_room_read() returns trigger
  language plpgsql security definer set search_path = ''
  as $$
  begin
    insert into public.room_reads (chatroom_id, profile_id, last_read_seq)
      select new.chatroom_id, new.profile_id, c.last_seq from public.chatrooms c where c.id = new.chatroom_id
      on conflict do nothing;
    return new;
  end
  $$;

create trigger chatroom_members_create_read after insert on public.chatroom_members
  for each row execute function chat_private.create_room_read();

-- The pointer only moves forward and never past the room's last message, however it is written.
create function chat_private.clamp_room_read() returns trigger
  language plpgsql security definer set search_path = ''
  as $$
  begin
    new.chatroom_id := old.chatroom_id;
    new.profile_id := old.profile_id;
    new.last_read_seq := greatest(
      old.last_read_seq,
      least(new.last_read_seq, (select c.last_seq from public.chatrooms c where c.id = old.chatroom_id))
    );
    if new.last_read_seq is distinct from old.last_read_seq or new.muted is distinct from old.muted then
      new.updated_at := now();
    end if;
    return new;
  end
  $$;

create trigger room_reads_clamp before update on public.room_reads
  for each row execute function chat_private.clamp_room_read();

-- Sending a message moves the sender's own pointer to it: what you wrote, you have read.
create function chat_private.read_own_message() returns trigger
  language plpgsql security definer set search_path = ''
  as $$
  begin
    update public.room_reads r set last_read_seq = new.seq
      where r.chatroom_id = new.chatroom_id and r.profile_id = new.sender_id and r.last_read_seq < new.seq;
    return null;
  end
  $$;

create trigger messages_read_own after insert on public.messages
  for each row when (new.sender_id is not null) execute function chat_private.read_own_message();

revoke all on function chat_private.create_room_read(), chat_private.clamp_room_read(),
  chat_private.read_own_message() from public, anon, authenticated;

-- Every existing member has read their rooms up to now.
insert into public.room_reads (chatroom_id, profile_id, last_read_seq)
  select m.chatroom_id, m.profile_id, c.last_seq
  from public.chatroom_members m join public.chatrooms c on c.id = m.chatroom_id
  on conflict do nothing;

-- The caller's unread count in a room they are a member of (0 otherwise): messages after p_after_seq that others
-- wrote, counted up to 100 — a client shows the cap as "99+" — by walking the (chatroom_id, seq) index from the
-- pointer, so it costs the same in a room of a thousand messages and of a million. It checks membership once
-- (security definer, without the messages policy's test on every row): under that per-row test the planner
-- guessed that few rows pass, and chose to fetch and sort every message after the pointer instead
-- (bench/unread.ts measured 850 ms in a room of 100,000).
create function chat_private.unread_count(p_room_id uuid, p_after_seq bigint) returns integer
  language plpgsql stable security definer set search_path = ''
  as $$
  declare
    v_count integer;
  begin
    if not chat_private.is_member(p_room_id) then
      return 0;
    end if;
    select count(*)::integer into v_count from (
      select 1 from public.messages m
      where m.chatroom_id = p_room_id and m.seq > p_after_seq and m.sender_id is distinct from auth.uid()
      order by m.seq
      limit 100
    ) unread;
    return v_count;
  end
  $$;

revoke all on function chat_private.unread_count(uuid, bigint) from public, anon;
grant execute on function chat_private.unread_count(uuid, bigint) to authenticated, service_role;

alter type public.room_row
  add attribute read_receipts boolean,
  add attribute last_read_seq bigint,
  add attribute unread integer,
  add attribute muted boolean,
  add attribute last_message_seq bigint,
  add attribute last_message_role text,
  add attribute last_message_sender_id uuid,
  add attribute last_message_preview text,
  add attribute last_message_created_at timestamptz;

-- A room as its caller sees it. A member also gets the room's last message (its first 140 characters), their
-- pointer, unread count and mute; for anyone else those are null (a public room's content is for members).
create or replace function chat_private.room_view(r public.chatrooms) returns public.room_row
  language sql stable set search_path = ''
  as $$
    select r.id, r.name, r.visibility, r.owner_id, r.ai_mode, r.ai_system_prompt, r.ai_model, r.last_seq,
           r.last_activity_at, r.created_at, r.updated_at, me.role, r.read_receipts,
           me.last_read_seq,
           case when me.role is not null then chat_private.unread_count(r.id, me.last_read_seq) end,
           me.muted, last.seq, last.role, last.sender_id, last.preview, last.created_at
    from (
      select m.role, rr.last_read_seq, rr.muted
      from (select 1) one
      left join public.chatroom_members m on m.chatroom_id = r.id and m.profile_id = (select auth.uid())
      left join public.room_reads rr on rr.chatroom_id = r.id and rr.profile_id = m.profile_id
    ) me
    left join lateral (
      select lm.seq, lm.role, lm.sender_id, left(lm.content, 140) as preview, lm.created_at
      from public.messages lm
      where me.role is not null and lm.chatroom_id = r.id
      order by lm.seq desc
      limit 1
    ) last on true
  $$;

-- p_patch holds only the fields to change: name, visibility, ai_mode, ai_system_prompt, ai_model, read_receipts.
create or replace function public.update_room(p_room_id uuid, p_patch jsonb) returns setof public.room_row
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
      read_receipts = case when p_patch ? 'read_receipts' then (p_patch ->> 'read_receipts')::boolean else c.read_receipts end,
      updated_at = now()
    where c.id = p_room_id
    returning * into r;
    return query select v.* from chat_private.room_view(r) v;
  end
  $$;

-- Moves the caller's pointer in a room forward to p_seq (clamped to the room's last_seq). Returns the pointer
-- after the call, whether it moved, whether the room shows receipts to its members, and the unread count left.
create function public.mark_room_read(p_room_id uuid, p_seq bigint)
  returns table (last_read_seq bigint, moved boolean, read_receipts boolean, unread integer)
  language plpgsql set search_path = ''
  as $$
  #variable_conflict use_column
  declare
    v_uid uuid := chat_private.require_uid();
    r public.chatrooms := chat_private.member_room(p_room_id);
    v_before bigint;
    v_after bigint;
  begin
    if p_seq is null or p_seq < 0 then
      raise exception using errcode = 'CH400', message = 'seq must be a whole number, 0 or more';
    end if;
    select rr.last_read_seq into v_before from public.room_reads rr
      where rr.chatroom_id = p_room_id and rr.profile_id = v_uid;
    update public.room_reads rr set last_read_seq = p_seq
      where rr.chatroom_id = p_room_id and rr.profile_id = v_uid and rr.last_read_seq < p_seq
      returning rr.last_read_seq into v_after;
    return query select coalesce(v_after, v_before), coalesce(v_after > v_before, false), r.read_receipts,
      chat_private.unread_count(p_room_id, coalesce(v_after, v_before));
  end
  $$;

-- The caller's own mute of a room's push notifications.
create function public.set_room_muted(p_room_id uuid, p_muted boolean) returns setof public.room_row
  language plpgsql set search_path = ''
  as $$
  declare
    v_uid uuid := chat_private.require_uid();
    r public.chatrooms := chat_private.member_room(p_room_id);
  begin
    update public.room_reads rr set muted = p_muted where rr.chatroom_id = p_room_id and rr.profile_id = v_uid;
    return query select v.* from chat_private.room_view(r) v;
  end
  $$;

-- The rooms the caller is a member of: a socket's inbox subscriptions when it connects.
create function public.list_my_room_ids() returns table (room_id uuid)
  language sql stable set search_path = ''
  as $$
    select m.chatroom_id from public.chatroom_members m where m.profile_id = (select auth.uid())
  $$;

revoke all on function public.mark_room_read(uuid, bigint), public.set_room_muted(uuid, boolean),
  public.list_my_room_ids() from public, anon;
grant execute on function public.mark_room_read(uuid, bigint), public.set_room_muted(uuid, boolean),
  public.list_my_room_ids() to authenticated, service_role;
