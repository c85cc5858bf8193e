-- One change feed per room (PROTOCOL.md §3 "Changes"). Every change to a room's messages — a new message, an edit,
-- a delete, a reaction, a reply's final status — takes the room's next change number, `rev`, from a counter on the
-- room row (last_rev), in the change's own transaction and under the room's row lock, as seq does: revs are gapless
-- per room and commit in order. A message holds the rev of its latest change, so "every message changed since rev
-- N" is one index range, each message once. A streaming reply's checkpoints are not changes (its final status is).

alter table public.chatrooms add column last_rev bigint not null default 0;
alter table public.messages add column rev bigint;

-- Until now every change was a message's own: its seq is a consistent rev for what is already stored.
update public.messages set rev = seq;
update public.chatrooms set last_rev = last_seq;
alter table public.messages alter column rev set not null;
-- Also the index the feed reads a room's changes through.
alter table public.messages add constraint messages_room_rev_key unique (chatroom_id, rev);

-- The room's next rev, for a change to one of its existing messages (the row lock is held until commit).
create function chat_private.next_rev(p_room_id uuid) returns bigint
  language sql security definer set search_path = ''
  as $$
    update public.chatrooms set last_rev = last_rev + 1 where id = p_room_id returning last_rev
  $$;
revoke all on function chat_private.next_rev(uuid) from public, anon, authenticated;

-- A new message takes seq and rev in one update of the room row (one lock, one new row version).
create or replace function chat_private.assign_message_seq() returns trigger
  language plpgsql security definer set search_path = ''
  as $$
  begin
    if coalesce(auth.role(), '') <> 'service_role' and not chat_private.is_member(new.chatroom_id) then
      raise exception using errcode = 'CH404', message = 'Room not found';
    end if;
    update public.chatrooms
      set last_seq = last_seq + 1, last_rev = last_rev + 1, last_activity_at = now()
      where id = new.chatroom_id
      returning last_seq, last_rev into new.seq, new.rev;
    if new.seq is null then
      raise exception using errcode = 'CH404', message = 'Room not found';
    end if;
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

-- Every later write of a message is a change with a new rev, but a streaming reply's checkpoint (it stays
-- streaming and only its text moves). Whoever writes, a message keeps its room, seq and creation time.
create function chat_private.assign_message_rev() returns trigger
  language plpgsql security definer set search_path = ''
  as $$
  begin
    new.id := old.id;
    new.chatroom_id := old.chatroom_id;
    new.seq := old.seq;
    new.created_at := old.created_at;
    if old.status = 'streaming' and new.status = 'streaming'
      and (to_jsonb(new) - 'content' - 'updated_at' - 'rev') = (to_jsonb(old) - 'content' - 'updated_at' - 'rev') then
      new.rev := old.rev;
    else
      new.rev := chat_private.next_rev(old.chatroom_id);
    end if;
    return new;
  end
  $$;
revoke all on function chat_private.assign_message_rev() from public, anon, authenticated;

create trigger messages_assign_rev before update on public.messages
  for each row execute function chat_private.assign_message_rev();

-- The caller's room's messages changed after p_after_rev, in rev order, up to p_limit + 1 rows (the extra one
-- tells there is more), with the room's last rev on every row (for an empty page too, through the outer join).
create function public.list_changes(p_room_id uuid, p_after_rev bigint, p_limit integer)
  returns table (last_rev bigint, message jsonb)
  language plpgsql stable set search_path = ''
  as $$
  declare
    r public.chatrooms;
  begin
    perform chat_private.require_uid();
    r := chat_private.member_room(p_room_id);
    if p_after_rev is null or p_after_rev < 0 then
      raise exception using errcode = 'CH400', message = 'afterRev must be a whole number, 0 or more';
    end if;
    return query
      select r.last_rev, to_jsonb(page)
      from (select 1) one
      left join lateral (
        select * from public.messages m
        where m.chatroom_id = p_room_id and m.rev > p_after_rev
        order by m.rev
        limit least(greatest(coalesce(p_limit, 50), 1), 100) + 1
      ) page on true;
  end
  $$;
revoke all on function public.list_changes(uuid, bigint, integer) from public, anon;
grant execute on function public.list_changes(uuid, bigint, integer) to authenticated, service_role;

-- A room's view gains its last rev (what a client that holds the room up to date holds).
alter type public.room_row add attribute last_rev bigint;

create or replace function chat_private.room_view(r public.chatrooms) returns public.room_row
  language sql stable set search_path = ''
  as $$
    select r.id, r.name, r.visibility, r.owner_id, r.ai_mode, r.ai_system_prompt, r.ai_model, r.last_seq,
           r.last_activity_at, r.created_at, r.updated_at, me.role, r.read_receipts,
           me.last_read_seq,
           case when me.role is not null then chat_private.unread_count(r.id, me.last_read_seq) end,
           me.muted, last.seq, last.role, last.sender_id, last.preview, last.created_at,
           case when me.role is not null then r.last_rev end
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

-- A posted message carries its rev too (after the columns a send already returned, in both row types).
alter type public.posted_message add attribute rev bigint;
alter type chat_private.grouped_post add attribute rev bigint;

create or replace function public.post_message(p_room_id uuid, p_content text, p_client_id text)
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
      return query select m.id, m.chatroom_id, m.seq, m.role, m.sender_id, m.content, m.status, m.client_id,
          m.reply_to_id, m.error_code, m.error_message, m.created_at, m.updated_at, true, null::text, m.rev
        from public.messages m
        where m.chatroom_id = p_room_id and m.sender_id = v_uid and m.client_id = p_client_id;
      if found then
        return;
      end if;
    end if;
    begin
      -- The seq and rev come from the insert trigger, under the room's row lock.
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
        return query select m.id, m.chatroom_id, m.seq, m.role, m.sender_id, m.content, m.status, m.client_id,
            m.reply_to_id, m.error_code, m.error_message, m.created_at, m.updated_at, true, null::text, m.rev
          from public.messages m
          where m.chatroom_id = p_room_id and m.sender_id = v_uid and m.client_id = p_client_id;
        return;
    end;
    -- The room's AI mode tells the server whether this message asks for a reply.
    return query select v.id, v.chatroom_id, v.seq, v.role, v.sender_id, v.content, v.status, v.client_id,
      v.reply_to_id, v.error_code, v.error_message, v.created_at, v.updated_at, false,
      (select c.ai_mode from public.chatrooms c where c.id = p_room_id), v.rev;
  end
  $$;
