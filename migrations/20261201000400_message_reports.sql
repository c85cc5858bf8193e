-- Reports (PROTOCOL.md §3 "Reports"): a member reports a message of a room, once; the room's owner lists its
-- room's reports and resolves them. Nobody but the reporter ever learns who reported: the owner's list has no
-- reporter, the reported author sees nothing of it.

create table public.message_reports (
  id uuid primary key default gen_random_uuid(),
  message_id uuid not null references public.messages (id) on delete cascade,
  chatroom_id uuid not null references public.chatrooms (id) on delete cascade,
  reporter_id uuid not null references public.profiles (id) on delete cascade,
  reason text not null check (char_length(reason) between 1 and 1000),
  status text not null default 'open' check (status in ('open', 'resolved', 'dismissed')),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  -- One report per person per message.
  constraint message_reports_once unique (message_id, reporter_id)
);
create index message_reports_room_idx on public.message_reports (chatroom_id, status, created_at desc, id desc);
create index message_reports_reporter_idx on public.message_reports (reporter_id);

-- A reporter reads their own reports; everything else goes through the functions below (the owner's list leaves the
-- reporter out, which a row policy could not: it would show the whole row).
alter table public.message_reports enable row level security;
revoke all on public.message_reports from public, anon, authenticated;
grant select on public.message_reports to authenticated;
grant all on public.message_reports to service_role;
create policy message_reports_select on public.message_reports for select to authenticated
  using (reporter_id = (select auth.uid()));

-- A report as its reader sees it: never the reporter.
create function chat_private.report_view(r public.message_reports) returns jsonb
  language sql immutable set search_path = ''
  as $$
    select jsonb_build_object(
      'id', r.id, 'roomId', r.chatroom_id, 'messageId', r.message_id, 'reason', r.reason, 'status', r.status,
      'createdAt', r.created_at, 'updatedAt', r.updated_at
    )
  $$;
revoke all on function chat_private.report_view(public.message_reports) from public;

-- chat_private.owned_room for the security definer functions below, which the chatrooms policy does not filter: a
-- room the caller cannot see is CH404 here too (never CH403, which would tell a private room exists).
create function chat_private.owned_room_checked(p_room_id uuid) returns void
  language plpgsql stable set search_path = ''
  as $$
  begin
    if not exists (
      select 1 from public.chatrooms c
      where c.id = p_room_id
        and (c.visibility = 'public' or c.owner_id = (select auth.uid()) or chat_private.is_member(c.id))
    ) then
      raise exception using errcode = 'CH404', message = 'Room not found';
    end if;
    perform chat_private.owned_room(p_room_id);
  end
  $$;
revoke all on function chat_private.owned_room_checked(uuid) from public;

-- The caller reports a message of a room they are a member of (not their own, not a deleted one). A second report of
-- the same message by the same person changes nothing and answers the first (created false).
create function public.report_message(p_message_id uuid, p_reason text)
  returns table (created boolean, report jsonb)
  language plpgsql security definer set search_path = ''
  as $$
  declare
    v_uid uuid := chat_private.require_uid();
    v public.messages;
    v_report public.message_reports;
  begin
    select * into v from public.messages m where m.id = p_message_id;
    if not found or not chat_private.is_member(v.chatroom_id) then
      raise exception using errcode = 'CH404', message = 'Message not found';
    end if;
    if v.deleted_at is not null then
      raise exception using errcode = 'CH409', message = 'The message was deleted';
    end if;
    if v.sender_id is not distinct from v_uid then
      raise exception using errcode = 'CH409', message = 'One cannot report one''s own message';
    end if;
    if p_reason is null or char_length(p_reason) not between 1 and 1000 then
      raise exception using errcode = 'CH400', message = 'reason must be 1 to 1000 characters';
    end if;
    insert into public.message_reports (message_id, chatroom_id, reporter_id, reason)
      values (v.id, v.chatroom_id, v_uid, p_reason)
      on conflict on constraint message_reports_once do nothing
      returning * into v_report;
    if v_report.id is not null then
      return query select true, chat_private.report_view(v_report);
      return;
    end if;
    return query select false, chat_private.report_view(r)
      from public.message_reports r where r.message_id = v.id and r.reporter_id = v_uid;
  end
  $$;

-- The owner's list of a room's reports with status p_status (null: all), newest first, up to p_limit + 1 rows (the
-- extra one tells there is more), older than the report p_before when given. Each with the message as it is now (a
-- tombstone once deleted) and how many people reported it. CH403 for a member who does not own the room.
create function public.list_reports(p_room_id uuid, p_status text, p_limit integer, p_before uuid)
  returns table (report jsonb, message jsonb, reports integer)
  language plpgsql stable security definer set search_path = ''
  as $$
  declare
    v_before public.message_reports;
  begin
    perform chat_private.owned_room_checked(p_room_id);
    if p_before is not null then
      select * into v_before from public.message_reports r where r.id = p_before and r.chatroom_id = p_room_id;
      if not found then
        raise exception using errcode = 'CH400', message = 'before must be a report of this room';
      end if;
    end if;
    return query
      select chat_private.report_view(r), to_jsonb(m),
             (select count(*)::integer from public.message_reports x where x.message_id = r.message_id)
      from public.message_reports r
      join public.messages m on m.id = r.message_id
      where r.chatroom_id = p_room_id
        and (p_status is null or r.status = p_status)
        and (v_before.id is null or (r.created_at, r.id) < (v_before.created_at, v_before.id))
      order by r.created_at desc, r.id desc
      limit least(greatest(coalesce(p_limit, 50), 1), 100) + 1;
  end
  $$;

-- The owner sets a report's status (open again, resolved or dismissed).
create function public.set_report_status(p_room_id uuid, p_report_id uuid, p_status text)
  returns table (report jsonb)
  language plpgsql security definer set search_path = ''
  as $$
  declare
    v_report public.message_reports;
  begin
    perform chat_private.owned_room_checked(p_room_id);
    if p_status is null or p_status not in ('open', 'resolved', 'dismissed') then
      raise exception using errcode = 'CH400', message = 'status must be open, resolved or dismissed';
    end if;
    update public.message_reports r set status = p_status, updated_at = now()
      where r.id = p_report_id and r.chatroom_id = p_room_id
      returning * into v_report;
    if not found then
      raise exception using errcode = 'CH404', message = 'Report not found';
    end if;
    return query select chat_private.report_view(v_report);
  end
  $$;

revoke all on function public.report_message(uuid, text), public.list_reports(uuid, text, integer, uuid),
  public.set_report_status(uuid, uuid, text) from public, anon;
grant execute on function public.report_message(uuid, text), public.list_reports(uuid, text, integer, uuid),
  public.set_report_status(uuid, uuid, text) to authenticated, service_role;
