-- Messages that change after they are stored (PROTOCOL.md §3 "Editing and deleting", "Reactions"): an author edits
-- their message within the edit window; the author or the room's owner deletes one, which leaves a tombstone (seq,
-- rev, deleted_at, deleted_by) and nothing of its text; members react with emoji. Each is one change of the room's
-- feed: the messages_assign_rev trigger gives it the room's next rev.

alter table public.messages
  add column edited_at timestamptz,
  add column deleted_at timestamptz,
  add column deleted_by uuid references public.profiles (id) on delete set null,
  -- { emoji: count }, kept by the message_reactions triggers below whoever writes a reaction.
  add column reactions jsonb not null default '{}'::jsonb;

create table public.message_reactions (
  message_id uuid not null references public.messages (id) on delete cascade,
  -- Set from the message by the insert trigger, whatever the writer sends (the policies test membership by it).
  chatroom_id uuid not null references public.chatrooms (id) on delete cascade,
  profile_id uuid not null default auth.uid() references public.profiles (id) on delete cascade,
  emoji text not null check (char_length(emoji) between 1 and 32),
  created_at timestamptz not null default now(),
  primary key (message_id, profile_id, emoji)
);
create index message_reactions_profile_idx on public.message_reactions (profile_id);
create index message_reactions_room_idx on public.message_reactions (chatroom_id);

alter table public.message_reactions enable row level security;
revoke all on public.message_reactions from public, anon, authenticated;
grant select, delete on public.message_reactions to authenticated;
grant insert (message_id, emoji) on public.message_reactions to authenticated;
grant all on public.message_reactions to service_role;
-- Members see a room's reactions; each adds and removes only their own.
create policy message_reactions_select on public.message_reactions for select to authenticated
  using (chat_private.is_member(chatroom_id));
create policy message_reactions_insert on public.message_reactions for insert to authenticated
  with check (profile_id = (select auth.uid()) and chat_private.is_member(chatroom_id));
create policy message_reactions_delete on public.message_reactions for delete to authenticated
  using (profile_id = (select auth.uid()));

-- A reaction belongs to the message's room and to its writer; a deleted message takes none. The message's row is
-- locked here, first: the reaction's foreign key takes a key-share lock on it and the count's update (a new rev, a
-- uniquely indexed column) needs the full lock, so two reactions that each took the first would wait for each other
-- (a deadlock). Locked up front, reactions to one message take turns.
create function chat_private.prepare_reaction() returns trigger
  language plpgsql security definer set search_path = ''
  as $$
  declare
    v_room uuid;
    v_deleted timestamptz;
  begin
    select m.chatroom_id, m.deleted_at into v_room, v_deleted from public.messages m where m.id = new.message_id
      for update;
    if v_room is null
      or (coalesce(auth.role(), '') <> 'service_role' and not chat_private.is_member(v_room)) then
      raise exception using errcode = 'CH404', message = 'Message not found';
    end if;
    if v_deleted is not null then
      raise exception using errcode = 'CH409', message = 'The message was deleted';
    end if;
    new.chatroom_id := v_room;
    if coalesce(auth.role(), '') <> 'service_role' then
      new.profile_id := auth.uid();
    end if;
    new.created_at := now();
    return new;
  end
  $$;

create trigger message_reactions_prepare before insert on public.message_reactions
  for each row execute function chat_private.prepare_reaction();

-- The message's counts follow its reactions, one step each (an increment of the row as it stands when its lock is
-- granted, so concurrent reactions all count), within the bounds: 20 different emoji on a message, 10 of one person's.
create function chat_private.count_reaction() returns trigger
  language plpgsql security definer set search_path = ''
  as $$
  declare
    v_counts jsonb;
    v_mine integer;
  begin
    if tg_op = 'INSERT' then
      update public.messages m
        set reactions = jsonb_set(m.reactions, array[new.emoji], to_jsonb(coalesce((m.reactions ->> new.emoji)::integer, 0) + 1))
        where m.id = new.message_id and m.deleted_at is null
        returning m.reactions into v_counts;
      if v_counts is null then
        raise exception using errcode = 'CH409', message = 'The message was deleted';
      end if;
      if (select count(*) from jsonb_object_keys(v_counts)) > 20 then
        raise exception using errcode = 'CH409', message = 'A message holds at most 20 different reactions';
      end if;
      select count(*) into v_mine from public.message_reactions r
        where r.message_id = new.message_id and r.profile_id = new.profile_id;
      if v_mine > 10 then
        raise exception using errcode = 'CH409', message = 'You can add at most 10 reactions to a message';
      end if;
      return null;
    end if;
    -- A deleted message (or one going with its room) has no counts left to keep.
    update public.messages m
      set reactions = case when coalesce((m.reactions ->> old.emoji)::integer, 0) <= 1 then m.reactions - old.emoji
        else jsonb_set(m.reactions, array[old.emoji], to_jsonb((m.reactions ->> old.emoji)::integer - 1)) end
      where m.id = old.message_id and m.deleted_at is null;
    return null;
  end
  $$;

create trigger message_reactions_count after insert or delete on public.message_reactions
  for each row execute function chat_private.count_reaction();

revoke all on function chat_private.prepare_reaction(), chat_private.count_reaction() from public, anon, authenticated;

-- Adds the caller's reaction (once per emoji: a repeat changes nothing). The message as it is now, and whether it
-- changed.
create function public.add_reaction(p_room_id uuid, p_message_id uuid, p_emoji text)
  returns table (changed boolean, message jsonb)
  language plpgsql set search_path = ''
  as $$
  declare
    v_changed boolean;
  begin
    perform chat_private.require_uid();
    perform chat_private.member_room(p_room_id);
    if not exists (select 1 from public.messages m where m.id = p_message_id and m.chatroom_id = p_room_id) then
      raise exception using errcode = 'CH404', message = 'Message not found';
    end if;
    insert into public.message_reactions (message_id, emoji) values (p_message_id, p_emoji) on conflict do nothing;
    v_changed := found;
    return query select v_changed, to_jsonb(m) from public.messages m where m.id = p_message_id;
  end
  $$;

-- Takes the caller's reaction back (none to take changes nothing).
create function public.remove_reaction(p_room_id uuid, p_message_id uuid, p_emoji text)
  returns table (changed boolean, message jsonb)
  language plpgsql set search_path = ''
  as $$
  declare
    v_uid uuid := chat_private.require_uid();
    v_changed boolean;
  begin
    perform chat_private.member_room(p_room_id);
    if not exists (select 1 from public.messages m where m.id = p_message_id and m.chatroom_id = p_room_id) then
      raise exception using errcode = 'CH404', message = 'Message not found';
    end if;
    delete from public.message_reactions r
      where r.message_id = p_message_id and r.profile_id = v_uid and r.emoji = p_emoji;
    v_changed := found;
    return query select v_changed, to_jsonb(m) from public.messages m where m.id = p_message_id;
  end
  $$;

-- The author's edit of their own user message, within p_window_seconds of its sending (the server's
-- MESSAGE_EDIT_WINDOW_SECONDS; the database never allows more than a day, whoever calls). Security definer: no
-- client may update a message directly; every rule is checked here against auth.uid().
create function public.edit_message(p_room_id uuid, p_message_id uuid, p_content text, p_window_seconds integer)
  returns table (room_last_seq bigint, message jsonb)
  language plpgsql security definer set search_path = ''
  as $$
  declare
    v_uid uuid := chat_private.require_uid();
    r public.chatrooms := chat_private.member_room(p_room_id);
    v public.messages;
  begin
    select * into v from public.messages m where m.id = p_message_id and m.chatroom_id = p_room_id for update;
    if not found or v.deleted_at is not null then
      raise exception using errcode = 'CH404', message = 'Message not found';
    end if;
    if v.role <> 'user' or v.sender_id is distinct from v_uid then
      raise exception using errcode = 'CH403', message = 'Only its author can edit a message';
    end if;
    if v.created_at < now() - make_interval(secs => least(greatest(coalesce(p_window_seconds, 0), 0), 86400)) then
      raise exception using errcode = 'CH403', message = 'The time to edit this message has passed';
    end if;
    if p_content is null or char_length(p_content) = 0 or char_length(p_content) > 200000 then
      raise exception using errcode = 'CH400', message = 'content must not be empty';
    end if;
    update public.messages m set content = p_content, edited_at = now(), updated_at = now()
      where m.id = p_message_id returning * into v;
    return query select c.last_seq, to_jsonb(v) from public.chatrooms c where c.id = p_room_id;
  end
  $$;

-- Deletes a message: its author, or the room's owner for any message. What it said goes (its text, an error's text,
-- its reactions); a tombstone keeps its place: seq, rev, deleted_at, deleted_by. A reply not yet started to it is not
-- made. A reply still streaming cannot be deleted (stop it first). Deleting a tombstone changes nothing.
create function public.delete_message(p_room_id uuid, p_message_id uuid)
  returns table (room_last_seq bigint, changed boolean, message jsonb)
  language plpgsql security definer set search_path = ''
  as $$
  declare
    v_uid uuid := chat_private.require_uid();
    r public.chatrooms := chat_private.member_room(p_room_id);
    v public.messages;
  begin
    select * into v from public.messages m where m.id = p_message_id and m.chatroom_id = p_room_id for update;
    if not found then
      raise exception using errcode = 'CH404', message = 'Message not found';
    end if;
    if v.deleted_at is not null then
      return query select c.last_seq, false, to_jsonb(v) from public.chatrooms c where c.id = p_room_id;
      return;
    end if;
    if v.sender_id is distinct from v_uid and r.owner_id is distinct from v_uid then
      raise exception using errcode = 'CH403', message = 'Only its author or the room''s owner can delete a message';
    end if;
    if v.status = 'streaming' then
      raise exception using errcode = 'CH409', message = 'The reply is still being written: stop it first';
    end if;
    update public.messages m
      set content = '', error_code = null, error_message = null, edited_at = null, reactions = '{}'::jsonb,
          deleted_at = now(), deleted_by = v_uid, updated_at = now()
      where m.id = p_message_id returning * into v;
    delete from public.message_reactions x where x.message_id = p_message_id;
    delete from chat_private.ai_jobs j where j.question_id = p_message_id and j.state = 'queued';
    return query select c.last_seq, true, to_jsonb(v) from public.chatrooms c where c.id = p_room_id;
  end
  $$;

revoke all on function public.add_reaction(uuid, uuid, text), public.remove_reaction(uuid, uuid, text),
  public.edit_message(uuid, uuid, text, integer), public.delete_message(uuid, uuid) from public, anon;
grant execute on function public.add_reaction(uuid, uuid, text), public.remove_reaction(uuid, uuid, text),
  public.edit_message(uuid, uuid, text, integer), public.delete_message(uuid, uuid) to authenticated, service_role;

-- The assistant never sees deleted content: tombstones are left out of a reply's context.
create or replace function public.ai_context(p_room_id uuid, p_question_id uuid, p_limit integer)
  returns table (id uuid, seq bigint, role text, content text, reply_to_id uuid, sender_name text)
  language sql stable set search_path = ''
  as $$
    with question as (
      select q.seq from public.messages q where q.id = p_question_id and q.chatroom_id = p_room_id
    ), asked as (
      select m.id, m.seq, m.role, m.content, m.reply_to_id, p.display_name as sender_name
      from public.messages m
      left join public.profiles p on p.id = m.sender_id
      where m.chatroom_id = p_room_id
        and m.role in ('user', 'system')
        and m.status in ('complete', 'truncated')
        and m.deleted_at is null
        and m.seq <= (select seq from question)
      order by m.seq desc
      limit least(greatest(p_limit, 1), 1000)
    )
    select * from asked
    union all
    select r.id, r.seq, r.role, r.content, r.reply_to_id, null
    from public.messages r
    where r.chatroom_id = p_room_id
      and r.role = 'assistant'
      and r.status in ('complete', 'truncated')
      and r.deleted_at is null
      and r.reply_to_id in (select a.id from asked a where a.id <> p_question_id)
  $$;

-- A push waiting for a deleted message (delayed, or folded) is not sent: it has no targets any more.
create or replace function public.push_targets(p_message_id uuid)
  returns table (profile_id uuid, last_read_seq bigint, tokens jsonb, room_name text, sender_name text)
  language plpgsql stable set search_path = ''
  as $$
  begin
    return query
    select rr.profile_id, rr.last_read_seq, devices.tokens, c.name, coalesce(sender.display_name, 'Assistant')
    from public.messages m
    join public.chatrooms c on c.id = m.chatroom_id
    left join public.profiles sender on sender.id = m.sender_id
    left join public.messages question on question.id = m.reply_to_id
    join public.room_reads rr on rr.chatroom_id = m.chatroom_id
    cross join lateral (
      select jsonb_agg(d.token order by d.updated_at desc) as tokens
      from public.push_devices d where d.profile_id = rr.profile_id
    ) devices
    where m.id = p_message_id
      and m.deleted_at is null
      and rr.last_read_seq < m.seq
      and not rr.muted
      and devices.tokens is not null
      and case m.role
        when 'user' then rr.profile_id is distinct from m.sender_id
        when 'assistant' then rr.profile_id = question.sender_id
        else false
      end;
  end
  $$;
