-- Answers asked for again (PROTOCOL.md §3 "Regenerate"): a member asks the assistant for a new answer to a
-- question it answered (`ai:regenerate`), or its author edits the question and asks again (`rerun`). Each answer
-- is a new assistant message (the room's next seq and rev) replying to the same question, with the question's next
-- version number; earlier versions stay as they are. "One reply per question" becomes one reply per request.

alter table public.messages
  -- An assistant reply's place among the answers to its question: 1, 2, … (null on other messages).
  add column reply_version integer check (reply_version >= 1);

-- Until now a question had at most one reply: each is version 1. Not a change of the message (no rev): a client
-- that holds one without a version reads it as the first.
alter table public.messages disable trigger messages_assign_rev;
update public.messages set reply_version = 1 where role = 'assistant' and reply_to_id is not null;
alter table public.messages enable trigger messages_assign_rev;

-- One job per question may wait at a time (a second request for it while one waits changes nothing); another may
-- run meanwhile (a regenerate asked while an answer streams waits behind it, as the room's jobs take turns).
alter table chat_private.ai_jobs drop constraint ai_jobs_question_id_key;
create unique index ai_jobs_queued_question_key on chat_private.ai_jobs (question_id) where state = 'queued';
create index ai_jobs_question_idx on chat_private.ai_jobs (question_id);

-- Queues the first reply to a stored user message. Nothing when the message already has a job or a reply (a
-- repeated call changes nothing); the job's id when it was queued.
create or replace function public.ai_enqueue_job(p_question_id uuid, p_asked_by uuid, p_over_limit_ms integer)
  returns table (job_id uuid)
  language sql set search_path = ''
  as $$
    insert into chat_private.ai_jobs as j (chatroom_id, question_id, question_seq, asked_by, over_limit_ms)
    select q.chatroom_id, q.id, q.seq, p_asked_by, p_over_limit_ms
    from public.messages q
    where q.id = p_question_id
      and q.role = 'user'
      and not exists (
        select 1 from public.messages r where r.reply_to_id = q.id and r.role = 'assistant'
      )
      and not exists (select 1 from chat_private.ai_jobs e where e.question_id = q.id)
    on conflict (question_id) where state = 'queued' do nothing
    returning j.id
  $$;

-- A member asks for a new answer to a question: p_message_id is an assistant reply of the room (its question is
-- answered again) or a user message (answered again, or for the first time). The caller must be a member; the
-- question must still be there (not deleted); the room's assistant must not be off. Returns the question's id and
-- whether a job was queued now (false: one for it already waits, and will answer it as it stands).
create function public.request_answer(p_room_id uuid, p_message_id uuid)
  returns table (question_id uuid, queued boolean)
  language plpgsql security definer set search_path = ''
  as $$
  #variable_conflict use_column
  declare
    v_uid uuid := chat_private.require_uid();
    r public.chatrooms := chat_private.member_room(p_room_id);
    v public.messages;
    q public.messages;
    v_job uuid;
  begin
    select * into v from public.messages m where m.id = p_message_id and m.chatroom_id = p_room_id;
    if not found or v.deleted_at is not null then
      raise exception using errcode = 'CH404', message = 'Message not found';
    end if;
    if v.role = 'user' then
      q := v;
    elsif v.role = 'assistant' and v.reply_to_id is not null then
      select * into q from public.messages m where m.id = v.reply_to_id;
      if not found or q.deleted_at is not null then
        raise exception using errcode = 'CH404', message = 'The message this reply answers was deleted';
      end if;
    else
      raise exception using errcode = 'CH409', message = 'This message answers no question';
    end if;
    if r.ai_mode = 'off' then
      raise exception using errcode = 'CH409', message = 'The assistant is off in this room';
    end if;
    insert into chat_private.ai_jobs as j (chatroom_id, question_id, question_seq, asked_by)
      values (q.chatroom_id, q.id, q.seq, v_uid)
      on conflict (question_id) where state = 'queued' do nothing
      returning j.id into v_job;
    return query select q.id, v_job is not null;
  end
  $$;
revoke all on function public.request_answer(uuid, uuid) from public, anon;
grant execute on function public.request_answer(uuid, uuid) to authenticated, service_role;

-- Starts the reply of a job p_owner holds: its assistant message (streaming, empty, the room's next seq), the
-- question's next version. Nothing when the job is no longer p_owner's (taken over, or gone with its room) or has
-- already started. A room's jobs run one at a time: no two answers to one question start at once.
create or replace function public.ai_start_job(p_job_id uuid, p_owner uuid) returns setof public.messages
  language plpgsql set search_path = ''
  as $$
  declare
    v_job chat_private.ai_jobs;
    v_reply public.messages;
  begin
    select * into v_job from chat_private.ai_jobs j
      where j.id = p_job_id and j.owner_id = p_owner and j.state = 'running' and j.reply_id is null
      for update;
    if not found then
      return;
    end if;
    insert into public.messages (chatroom_id, role, sender_id, content, status, reply_to_id, reply_version)
      values (
        v_job.chatroom_id, 'assistant', null, '', 'streaming', v_job.question_id,
        coalesce((
          select max(r.reply_version) from public.messages r
          where r.reply_to_id = v_job.question_id and r.role = 'assistant'
        ), 0) + 1
      )
      returning * into v_reply;
    update chat_private.ai_jobs j set reply_id = v_reply.id, updated_at = now() where j.id = p_job_id;
    return next v_reply;
  end
  $$;

-- The conversation a reply sees: the newest p_limit user and system messages up to and including the question,
-- and, for each of them asked before it, its newest finished answer (one version: what the room last saw). Other
-- answers to the question itself are never in it: a new version is asked with the context as it was at the
-- question. Only complete and truncated messages count; deleted ones never.
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
    select * from (
      select distinct on (r.reply_to_id) r.id, r.seq, r.role, r.content, r.reply_to_id, null::text
      from public.messages r
      where r.chatroom_id = p_room_id
        and r.role = 'assistant'
        and r.status in ('complete', 'truncated')
        and r.deleted_at is null
        and r.reply_to_id in (select a.id from asked a where a.id <> p_question_id)
      order by r.reply_to_id, r.seq desc
    ) newest
  $$;

-- Takes over running jobs whose holder is gone (as before, 20261130000100_ai_jobs.sql). A job not started yet is
-- queued again unless another request for its question already waits: that one answers it, and this one goes.
create or replace function public.ai_take_over_jobs(p_owner uuid, p_all boolean) returns setof public.messages
  language sql set search_path = ''
  as $$
    with taken as (
      select j.id, j.reply_id, j.attempts,
             exists (
               select 1 from chat_private.ai_jobs w where w.question_id = j.question_id and w.state = 'queued'
             ) as waiting
      from chat_private.ai_jobs j
      where j.state = 'running' and (p_all or j.lease_until < now() or j.owner_id = p_owner)
      for update of j skip locked
    ), requeued as (
      update chat_private.ai_jobs j
      set state = 'queued', owner_id = null, lease_until = null, updated_at = now()
      from taken t
      where j.id = t.id and t.reply_id is null and t.attempts < 3 and not t.waiting
    ), ended as (
      delete from chat_private.ai_jobs j
      using taken t
      where j.id = t.id and (t.reply_id is not null or t.attempts >= 3 or t.waiting)
    )
    update public.messages m
    set status = 'failed', error_code = 'AI_FAILED', error_message = 'The server writing this reply stopped',
        updated_at = now()
    from taken t
    where m.id = t.reply_id and m.status = 'streaming'
    returning m.*
  $$;
