-- Blocking people and withholding messages (PROTOCOL.md §3 Blocks, Moderation). Neither ever removes a message
-- from a reader's sequence: what a reader may not see is read as a placeholder, keeping its id, seq, rev, sender,
-- role and time, with no content (`withheld` says why). seq and rev stay gapless for every reader.

-- Blocks: one row per blocker and blocked person. Only the blocker sees or changes their rows.
create table public.blocks (
  blocker_id uuid not null references public.profiles (id) on delete cascade,
  blocked_id uuid not null references public.profiles (id) on delete cascade,
  created_at timestamptz not null default now(),
  primary key (blocker_id, blocked_id),
  constraint blocks_not_self check (blocker_id <> blocked_id)
);
create index blocks_blocked_idx on public.blocks (blocked_id);
alter table public.blocks enable row level security;
revoke all on public.blocks from public, anon, authenticated;
grant select, delete on public.blocks to authenticated;
grant insert (blocker_id, blocked_id) on public.blocks to authenticated;
grant all on public.blocks to service_role;
create policy blocks_select on public.blocks for select to authenticated
  using (blocker_id = (select auth.uid()));
create policy blocks_insert on public.blocks for insert to authenticated
  with check (blocker_id = (select auth.uid()));
create policy blocks_delete on public.blocks for delete to authenticated
  using (blocker_id = (select auth.uid()));

-- Withheld messages: `withheld` says why ('flagged' by moderation, 'pending' while it could not be checked and the
-- server fails closed). The text moves out of public.messages (its content is '') into withheld_contents, which
-- only the author and the room's owner can read: a member reading the table directly sees no more than the
-- placeholder either.
alter table public.messages add column withheld text check (withheld in ('flagged', 'pending'));
-- A send writes it as the sender (pre-moderation). A sender who writes it directly only hides their own message.
grant insert (withheld) on public.messages to authenticated;

create table public.withheld_contents (
  message_id uuid primary key references public.messages (id) on delete cascade,
  chatroom_id uuid not null references public.chatrooms (id) on delete cascade,
  sender_id uuid references public.profiles (id) on delete set null,
  content text not null,
  categories text[] not null default '{}',
  withheld_at timestamptz not null default now()
);
create index withheld_contents_pending_idx on public.withheld_contents (withheld_at);
alter table public.withheld_contents enable row level security;
revoke all on public.withheld_contents from public, anon, authenticated;
grant select on public.withheld_contents to authenticated;
grant all on public.withheld_contents to service_role;
create policy withheld_contents_select on public.withheld_contents for select to authenticated
  using (sender_id = (select auth.uid()) or chat_private.is_owner(chatroom_id));

-- A message that is deleted or no longer withheld (its author edited it) keeps no withheld text.
create function chat_private.drop_withheld_content() returns trigger
  language plpgsql security definer set search_path = ''
  as $$
  begin
    if new.deleted_at is not null then
      new.withheld := null;
    end if;
    if old.withheld is not null and new.withheld is null then
      delete from public.withheld_contents w where w.message_id = old.id;
    end if;
    return new;
  end
  $$;
revoke all on function chat_private.drop_withheld_content() from public, anon, authenticated;
create trigger messages_drop_withheld before update on public.messages
  for each row execute function chat_private.drop_withheld_content();

-- The people the caller blocked (none for the service).
create function chat_private.my_blocked() returns uuid[]
  language sql stable security definer set search_path = ''
  as $$
    select coalesce(array_agg(b.blocked_id), '{}') from public.blocks b where b.blocker_id = (select auth.uid())
  $$;
revoke all on function chat_private.my_blocked() from public, anon;
grant execute on function chat_private.my_blocked() to authenticated, service_role;

-- A message as the caller may read it: a placeholder when the caller blocked its sender ('blocked'); a withheld
-- message with its text for its author and the room's owner (withheld_contents' own policy decides), a placeholder
-- for anyone else. A tombstone is a tombstone for everyone.
create function chat_private.as_read(m public.messages, p_blocked uuid[]) returns public.messages
  language plpgsql stable set search_path = ''
  as $$
  declare
    v_text text;
  begin
    if m.deleted_at is not null then
      return m;
    end if;
    if m.sender_id = any (p_blocked) then
      m.content := '';
      m.withheld := 'blocked';
    elsif m.withheld is not null then
      select w.content into v_text from public.withheld_contents w where w.message_id = m.id;
      m.content := coalesce(v_text, '');
    end if;
    if m.content = '' and m.withheld is not null then
      m.reactions := '{}'::jsonb;
      m.edited_at := null;
      m.client_id := null;
      m.error_code := null;
      m.error_message := null;
    end if;
    return m;
  end
  $$;
revoke all on function chat_private.as_read(public.messages, uuid[]) from public, anon;
grant execute on function chat_private.as_read(public.messages, uuid[]) to authenticated, service_role;

create or replace function public.list_messages(p_room_id uuid, p_after_seq bigint, p_before_seq bigint, p_limit integer)
  returns setof public.messages
  language plpgsql stable set search_path = ''
  as $$
  declare
    v_limit integer := least(greatest(coalesce(p_limit, 50), 1), 100) + 1;
    v_blocked uuid[];
  begin
    perform chat_private.require_uid();
    perform chat_private.member_room(p_room_id);
    v_blocked := chat_private.my_blocked();
    if p_after_seq is not null then
      return query
        select a.* from public.messages m cross join lateral chat_private.as_read(m, v_blocked) a
        where m.chatroom_id = p_room_id and m.seq > p_after_seq
          and (p_before_seq is null or m.seq < p_before_seq)
        order by m.seq asc
        limit v_limit;
    else
      return query
        select a.* from (
          select m as msg, m.seq from public.messages m
          where m.chatroom_id = p_room_id and (p_before_seq is null or m.seq < p_before_seq)
          order by m.seq desc
          limit v_limit
        ) page
        cross join lateral chat_private.as_read(page.msg, v_blocked) a
        order by page.seq asc;
    end if;
  end
  $$;

create or replace function public.list_changes(p_room_id uuid, p_after_rev bigint, p_limit integer)
  returns table (last_rev bigint, message jsonb)
  language plpgsql stable set search_path = ''
  as $$
  declare
    r public.chatrooms;
    v_blocked uuid[];
  begin
    perform chat_private.require_uid();
    r := chat_private.member_room(p_room_id);
    if p_after_rev is null or p_after_rev < 0 then
      raise exception using errcode = 'CH400', message = 'afterRev must be a whole number, 0 or more';
    end if;
    v_blocked := chat_private.my_blocked();
    return query
      select r.last_rev, case when page.msg is null then null else to_jsonb(chat_private.as_read(page.msg, v_blocked)) end
      from (select 1) one
      left join lateral (
        select m as msg from public.messages m
        where m.chatroom_id = p_room_id and m.rev > p_after_rev
        order by m.rev
        limit least(greatest(coalesce(p_limit, 50), 1), 100) + 1
      ) page on true;
  end
  $$;

create or replace function public.get_message(p_room_id uuid, p_message_id uuid) returns setof public.messages
  language plpgsql stable set search_path = ''
  as $$
  begin
    perform chat_private.require_uid();
    perform chat_private.member_room(p_room_id);
    return query select a.* from public.messages m
      cross join lateral chat_private.as_read(m, chat_private.my_blocked()) a
      where m.chatroom_id = p_room_id and m.id = p_message_id;
  end
  $$;

create or replace function public.find_my_message(p_room_id uuid, p_client_id text) returns setof public.messages
  language plpgsql stable set search_path = ''
  as $$
  declare
    v_uid uuid := chat_private.require_uid();
  begin
    return query select a.* from public.messages m cross join lateral chat_private.as_read(m, '{}') a
      where m.chatroom_id = p_room_id and m.sender_id = v_uid and m.client_id = p_client_id;
  end
  $$;

-- A JSON array of strings as text[] (moderation's categories).
create function chat_private.text_array(p_values jsonb) returns text[]
  language sql immutable set search_path = ''
  as $$
    select coalesce(array_agg(e), '{}') from jsonb_array_elements_text(coalesce(p_values, '[]'::jsonb)) e
  $$;
revoke all on function chat_private.text_array(jsonb) from public, anon;
grant execute on function chat_private.text_array(jsonb) to authenticated, service_role;

-- Keeps the text of the caller's own message withheld as it was just stored (a send runs as the sender, who cannot
-- write withheld_contents): only a message of theirs that is withheld, holds no text, and has none kept yet. Nothing
-- else can be written through it (no other's message, no text replaced).
create function chat_private.keep_withheld(p_message_id uuid, p_content text, p_categories jsonb) returns void
  language plpgsql security definer set search_path = ''
  as $$
  begin
    insert into public.withheld_contents (message_id, chatroom_id, sender_id, content, categories)
      select m.id, m.chatroom_id, m.sender_id, p_content, chat_private.text_array(p_categories)
      from public.messages m
      where m.id = p_message_id and m.sender_id = (select auth.uid()) and m.withheld is not null and m.content = ''
      on conflict (message_id) do nothing;
    if not found then
      raise exception using errcode = 'CH403', message = 'Only the text of one''s own message just withheld';
    end if;
  end
  $$;
revoke all on function chat_private.keep_withheld(uuid, text, jsonb) from public, anon;
grant execute on function chat_private.keep_withheld(uuid, text, jsonb) to authenticated, service_role;

-- A send may be withheld as it is stored (pre-moderation): p_withhold { reason, categories }. The author's answer
-- holds the text; the row holds none. A repeat of a withheld send answers with the text too.
alter type public.posted_message add attribute withheld text;
alter type chat_private.grouped_post add attribute withheld text;

drop function public.post_message(uuid, text, text);
create function public.post_message(p_room_id uuid, p_content text, p_client_id text, p_withhold jsonb default null)
  returns setof public.posted_message
  language plpgsql set search_path = ''
  as $$
  declare
    v_uid uuid := chat_private.require_uid();
    v public.messages;
    v_constraint text;
    v_reason text := p_withhold ->> 'reason';
  begin
    if not chat_private.is_member(p_room_id) then
      raise exception using errcode = 'CH404', message = 'Room not found';
    end if;
    if v_reason is not null and v_reason not in ('flagged', 'pending') then
      raise exception using errcode = 'CH400', message = 'withhold reason must be flagged or pending';
    end if;
    if p_client_id is not null then
      select a.* into v from public.messages m cross join lateral chat_private.as_read(m, '{}') a
        where m.chatroom_id = p_room_id and m.sender_id = v_uid and m.client_id = p_client_id;
      if found then
        return query select v.id, v.chatroom_id, v.seq, v.role, v.sender_id, v.content, v.status, v.client_id,
          v.reply_to_id, v.error_code, v.error_message, v.created_at, v.updated_at, true, null::text, v.rev, v.withheld;
        return;
      end if;
    end if;
    begin
      -- The seq and rev come from the insert trigger, under the room's row lock.
      insert into public.messages (chatroom_id, sender_id, content, client_id, withheld)
        values (p_room_id, v_uid, case when v_reason is null then p_content else '' end, p_client_id, v_reason)
        returning * into v;
    exception
      when unique_violation then
        get stacked diagnostics v_constraint = constraint_name;
        if v_constraint is distinct from 'messages_idempotency_key' then
          raise;
        end if;
        -- A concurrent send with the same client id committed first; this block's seq is rolled back with it.
        select a.* into v from public.messages m cross join lateral chat_private.as_read(m, '{}') a
          where m.chatroom_id = p_room_id and m.sender_id = v_uid and m.client_id = p_client_id;
        return query select v.id, v.chatroom_id, v.seq, v.role, v.sender_id, v.content, v.status, v.client_id,
          v.reply_to_id, v.error_code, v.error_message, v.created_at, v.updated_at, true, null::text, v.rev, v.withheld;
        return;
    end;
    if v_reason is not null then
      perform chat_private.keep_withheld(v.id, p_content, p_withhold -> 'categories');
      v.content := p_content;
    end if;
    -- The room's AI mode tells the server whether this message asks for a reply.
    return query select v.id, v.chatroom_id, v.seq, v.role, v.sender_id, v.content, v.status, v.client_id,
      v.reply_to_id, v.error_code, v.error_message, v.created_at, v.updated_at, false,
      (select c.ai_mode from public.chatrooms c where c.id = p_room_id), v.rev, v.withheld;
  end
  $$;
revoke all on function public.post_message(uuid, text, text, jsonb) from public, anon;
grant execute on function public.post_message(uuid, text, text, jsonb) to authenticated, service_role;

create or replace function chat_private.post_message_group(p_items jsonb)
  returns setof chat_private.grouped_post
  language plpgsql set search_path = ''
  as $$
  declare
    v_item jsonb;
    v_index integer;
    v_out chat_private.grouped_post;
    -- The caller's own identity, given back at the end.
    v_role text := current_setting('role');
    v_claims text := coalesce(current_setting('request.jwt.claims', true), '');
    v_sub text := coalesce(current_setting('request.jwt.claim.sub', true), '');
  begin
    for v_item, v_index in select e.value, (e.ordinality - 1)::integer
      from jsonb_array_elements(p_items) with ordinality e
    loop
      begin
        perform set_config('role', 'authenticated', true),
          set_config('request.jwt.claims', v_item -> 'claims' #>> '{}', true),
          set_config('request.jwt.claim.sub', v_item ->> 'sub', true);
        select v_index, null::text, null::text, p.* into strict v_out
          from public.post_message(
            (v_item -> 'args' ->> 'p_room_id')::uuid,
            v_item -> 'args' ->> 'p_content',
            v_item -> 'args' ->> 'p_client_id',
            nullif(v_item -> 'args' -> 'p_withhold', 'null'::jsonb)
          ) p;
      exception
        when others then
          v_out := null;
          v_out.item := v_index;
          v_out.failed_code := sqlstate;
          v_out.failed_message := sqlerrm;
      end;
      return next v_out;
    end loop;
    perform set_config('role', v_role, true),
      set_config('request.jwt.claims', v_claims, true),
      set_config('request.jwt.claim.sub', v_sub, true);
  end
  $$;
revoke all on function chat_private.post_message_group(jsonb) from public, anon, authenticated, service_role;

-- An edit may be withheld as it is stored too (pre-moderation); an edit that is not makes the message readable
-- again (the new text is what gets checked).
drop function public.edit_message(uuid, uuid, text, integer);
create function public.edit_message(
  p_room_id uuid, p_message_id uuid, p_content text, p_window_seconds integer, p_withhold jsonb default null
)
  returns table (room_last_seq bigint, message jsonb)
  language plpgsql security definer set search_path = ''
  as $$
  declare
    v_uid uuid := chat_private.require_uid();
    r public.chatrooms := chat_private.member_room(p_room_id);
    v public.messages;
    v_reason text := p_withhold ->> 'reason';
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
    if v_reason is not null and v_reason not in ('flagged', 'pending') then
      raise exception using errcode = 'CH400', message = 'withhold reason must be flagged or pending';
    end if;
    if v_reason is null then
      update public.messages m set content = p_content, withheld = null, edited_at = now(), updated_at = now()
        where m.id = p_message_id returning * into v;
    else
      update public.messages m set content = '', withheld = v_reason, edited_at = now(), updated_at = now()
        where m.id = p_message_id returning * into v;
      insert into public.withheld_contents as w (message_id, chatroom_id, sender_id, content, categories)
        values (v.id, v.chatroom_id, v.sender_id, p_content, chat_private.text_array(p_withhold -> 'categories'))
        on conflict (message_id) do update set content = excluded.content, categories = excluded.categories,
          withheld_at = now();
      v.content := p_content;
    end if;
    return query select c.last_seq, to_jsonb(v) from public.chatrooms c where c.id = p_room_id;
  end
  $$;
revoke all on function public.edit_message(uuid, uuid, text, integer, jsonb) from public, anon;
grant execute on function public.edit_message(uuid, uuid, text, integer, jsonb) to authenticated, service_role;

-- A withheld message takes no reactions (nobody but its author and the owner can read it).
create or replace function chat_private.prepare_reaction() returns trigger
  language plpgsql security definer set search_path = ''
  as $$
  declare
    v_room uuid;
    v_deleted timestamptz;
    v_withheld text;
  begin
    select m.chatroom_id, m.deleted_at, m.withheld into v_room, v_deleted, v_withheld
      from public.messages m where m.id = new.message_id for update;
    if v_room is null
      or (coalesce(auth.role(), '') <> 'service_role' and not chat_private.is_member(v_room)) then
      raise exception using errcode = 'CH404', message = 'Message not found';
    end if;
    if v_deleted is not null then
      raise exception using errcode = 'CH409', message = 'The message was deleted';
    end if;
    if v_withheld is not null then
      raise exception using errcode = 'CH409', message = 'The message is withheld';
    end if;
    new.chatroom_id := v_room;
    if coalesce(auth.role(), '') <> 'service_role' then
      new.profile_id := auth.uid();
    end if;
    new.created_at := now();
    return new;
  end
  $$;

-- Moderation's verdicts, as the service. p_checked is the text that was checked: a message edited (or deleted)
-- since is left alone (its new text is checked by itself). 'flagged' and 'pending' withhold it; 'passed' makes a
-- pending message readable again. Answers the message as its author reads it, the room's owner and last seq, and
-- whether anything changed.
create function public.moderation_verdict(p_message_id uuid, p_checked text, p_verdict text, p_categories jsonb)
  returns table (changed boolean, owner_id uuid, room_last_seq bigint, message jsonb)
  language plpgsql security definer set search_path = ''
  as $$
  declare
    v public.messages;
    v_text text;
  begin
    if p_verdict not in ('flagged', 'pending', 'passed') then
      raise exception using errcode = 'CH400', message = 'verdict must be flagged, pending or passed';
    end if;
    select * into v from public.messages m where m.id = p_message_id for update;
    if not found then
      return;
    end if;
    select w.content into v_text from public.withheld_contents w where w.message_id = v.id;
    if v.deleted_at is not null or coalesce(v_text, v.content) is distinct from p_checked
      or v.withheld is not distinct from nullif(p_verdict, 'passed') then
      return query select false, c.owner_id, c.last_seq, to_jsonb(v) from public.chatrooms c where c.id = v.chatroom_id;
      return;
    end if;
    if p_verdict = 'passed' then
      update public.messages m set content = v_text, withheld = null where m.id = v.id returning * into v;
    else
      insert into public.withheld_contents as w (message_id, chatroom_id, sender_id, content, categories)
        values (v.id, v.chatroom_id, v.sender_id, coalesce(v_text, v.content), chat_private.text_array(p_categories))
        on conflict (message_id) do update set categories = excluded.categories;
      update public.messages m set content = '', withheld = p_verdict where m.id = v.id returning * into v;
      v.content := p_checked;
    end if;
    return query select true, c.owner_id, c.last_seq, to_jsonb(v) from public.chatrooms c where c.id = v.chatroom_id;
  end
  $$;

-- Messages held while moderation was away (failing closed), oldest first, with their text: to be checked again.
create function public.moderation_pending(p_limit integer)
  returns table (message_id uuid, content text)
  language sql stable security definer set search_path = ''
  as $$
    select w.message_id, w.content from public.withheld_contents w
    join public.messages m on m.id = w.message_id and m.withheld = 'pending'
    order by w.withheld_at
    limit least(greatest(coalesce(p_limit, 50), 1), 200)
  $$;

revoke all on function public.moderation_verdict(uuid, text, text, jsonb), public.moderation_pending(integer)
  from public, anon, authenticated;
grant execute on function public.moderation_verdict(uuid, text, text, jsonb), public.moderation_pending(integer)
  to service_role;

-- Blocking: the caller blocks or unblocks a person; their list.
create function public.block_profile(p_profile_id uuid, p_blocked boolean)
  returns table (profile_id uuid, blocked boolean)
  language plpgsql set search_path = ''
  as $$
  declare
    v_uid uuid := chat_private.require_uid();
  begin
    if p_profile_id = v_uid then
      raise exception using errcode = 'CH400', message = 'You cannot block yourself';
    end if;
    if not exists (select 1 from public.profiles p where p.id = p_profile_id) then
      raise exception using errcode = 'CH404', message = 'Profile not found';
    end if;
    if p_blocked then
      insert into public.blocks (blocker_id, blocked_id) values (v_uid, p_profile_id) on conflict do nothing;
    else
      delete from public.blocks b where b.blocker_id = v_uid and b.blocked_id = p_profile_id;
    end if;
    return query select p_profile_id, p_blocked;
  end
  $$;

create function public.list_blocks()
  returns table (created_at timestamptz, profile jsonb)
  language plpgsql stable set search_path = ''
  as $$
  begin
    perform chat_private.require_uid();
    return query select b.created_at, to_jsonb(p) from public.blocks b
      join public.profiles p on p.id = b.blocked_id
      where b.blocker_id = (select auth.uid())
      order by b.created_at desc, b.blocked_id;
  end
  $$;

-- Only the ids, for a socket's handshake (it joins a channel per person blocked): no profiles read.
create function public.my_blocked_ids()
  returns table (profile_id uuid)
  language sql stable set search_path = ''
  as $$
    select unnest(chat_private.my_blocked())
  $$;

revoke all on function public.block_profile(uuid, boolean), public.list_blocks(), public.my_blocked_ids()
  from public, anon;
grant execute on function public.block_profile(uuid, boolean), public.list_blocks(), public.my_blocked_ids()
  to authenticated, service_role;

-- Whoever a person blocked cannot add them to a room, by the function or a direct insert.
create function chat_private.refuse_blocked_member() returns trigger
  language plpgsql security definer set search_path = ''
  as $$
  begin
    -- Only where the insert could otherwise be made (the room's owner adds someone): anyone else is refused by the
    -- insert policy as before, without learning of a block.
    if (select auth.uid()) is not null and new.profile_id <> (select auth.uid())
      and chat_private.is_owner(new.chatroom_id) and exists (
      select 1 from public.blocks b where b.blocker_id = new.profile_id and b.blocked_id = (select auth.uid())
    ) then
      raise exception using errcode = 'CH403', message = 'You cannot add this person';
    end if;
    return new;
  end
  $$;
revoke all on function chat_private.refuse_blocked_member() from public, anon, authenticated;
create trigger chatroom_members_refuse_blocked before insert on public.chatroom_members
  for each row execute function chat_private.refuse_blocked_member();

-- Unread counts leave out what the reader blocked.
create or replace function chat_private.unread_count(p_room_id uuid, p_after_seq bigint) returns integer
  language plpgsql stable security definer set search_path = ''
  as $$
  declare
    v_count integer;
    v_blocked uuid[] := chat_private.my_blocked();
  begin
    if not chat_private.is_member(p_room_id) then
      return 0;
    end if;
    select count(*)::integer into v_count from (
      select 1 from public.messages m
      where m.chatroom_id = p_room_id and m.seq > p_after_seq and m.sender_id is distinct from auth.uid()
        and (cardinality(v_blocked) = 0 or m.sender_id is null or m.sender_id <> all (v_blocked))
      order by m.seq
      limit 100
    ) unread;
    return v_count;
  end
  $$;

-- A room's last message as its reader may read it: withheld (no preview) when they blocked its sender or it is
-- withheld.
alter type public.room_row add attribute last_message_withheld text;

create or replace function chat_private.room_view(r public.chatrooms) returns public.room_row
  language sql stable set search_path = ''
  as $$
    select r.id, r.name, r.visibility, r.owner_id, r.ai_mode, r.ai_system_prompt, r.ai_model, r.last_seq,
           r.last_activity_at, r.created_at, r.updated_at, me.role, r.read_receipts,
           me.last_read_seq,
           case when me.role is not null then chat_private.unread_count(r.id, me.last_read_seq) end,
           me.muted, last.seq, last.role, last.sender_id,
           case when last.withheld is null then last.preview else '' end,
           last.created_at,
           case when me.role is not null then r.last_rev end,
           last.withheld
    from (
      select m.role, rr.last_read_seq, rr.muted
      from (select 1) one
      left join public.chatroom_members m on m.chatroom_id = r.id and m.profile_id = (select auth.uid())
      left join public.room_reads rr on rr.chatroom_id = r.id and rr.profile_id = m.profile_id
    ) me
    left join lateral (
      select lm.seq, lm.role, lm.sender_id, left(lm.content, 140) as preview, lm.created_at,
        case
          when lm.deleted_at is not null then null
          when lm.sender_id is not null and exists (
            select 1 from public.blocks b where b.blocker_id = (select auth.uid()) and b.blocked_id = lm.sender_id
          ) then 'blocked'
          else lm.withheld
        end as withheld
      from public.messages lm
      where me.role is not null and lm.chatroom_id = r.id
      order by lm.seq desc
      limit 1
    ) last on true
  $$;

-- Push: nothing for a withheld message, nothing to whoever blocked its sender.
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
      and m.withheld is null
      and rr.last_read_seq < m.seq
      and not rr.muted
      and devices.tokens is not null
      and not exists (
        select 1 from public.blocks b where b.blocker_id = rr.profile_id and b.blocked_id = m.sender_id
      )
      and case m.role
        when 'user' then rr.profile_id is distinct from m.sender_id
        when 'assistant' then rr.profile_id = question.sender_id
        else false
      end;
  end
  $$;

-- The assistant reads no withheld message (as no deleted one): its text is not the room's to share.
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
        and m.withheld is null
        and m.seq <= (select seq from question)
      order by m.seq desc
      limit least(greatest(p_limit, 1), 1000)
    )
    select * from asked
    union all
    select * from (
      select distinct on (r.reply_to_id) r.id, r.seq, r.role, r.content, r.reply_to_id, null::text
      from public.messages r
      where r.chatroom_id = p_room_id
        and r.role = 'assistant'
        and r.status in ('complete', 'truncated')
        and r.deleted_at is null
        and r.withheld is null
        and r.reply_to_id in (select a.id from asked a where a.id <> p_question_id)
      order by r.reply_to_id, r.seq desc
    ) newest
  $$;
