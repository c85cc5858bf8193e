-- Reply jobs: one row per reply asked for, from the moment its question is stored until the reply has ended, so a
-- question waiting for its reply outlives the process that received it. Any instance may claim a room's next job;
-- it holds it under a lease (database time) that it renews while it works. A room's jobs run one at a time, in the
-- order of their questions' seq. An expired lease lets any instance take the job over: a reply it had started ends
-- as failed, a job that had not started goes back in the queue.
--
-- For the service only (role service_role): no client role may see the table or call these functions.

create table chat_private.ai_jobs (
  id uuid primary key default gen_random_uuid(),
  chatroom_id uuid not null references public.chatrooms (id) on delete cascade,
  -- One job per asking message.
  question_id uuid not null unique references public.messages (id) on delete cascade,
  question_seq bigint not null,
  asked_by uuid references public.profiles (id) on delete set null,
  -- Set when the asker was over RATE_AI_PER_MINUTE: the reply is still made, as failed AI_RATE_LIMITED.
  over_limit_ms integer check (over_limit_ms >= 0),
  -- The assistant message, once the reply has started.
  reply_id uuid references public.messages (id) on delete set null,
  state text not null default 'queued' check (state in ('queued', 'running')),
  -- The instance that holds a running job, and until when (it renews this while it works).
  owner_id uuid,
  lease_until timestamptz,
  -- How many times the job was claimed: one claimed and dropped this often before its reply started is given up.
  attempts integer not null default 0,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint ai_jobs_lease_check check ((state = 'running') = (owner_id is not null and lease_until is not null))
);

-- At most one running job per room, whatever two instances claim at the same moment.
create unique index ai_jobs_running_room_key on chat_private.ai_jobs (chatroom_id) where state = 'running';
create index ai_jobs_queued_idx on chat_private.ai_jobs (chatroom_id, question_seq) where state = 'queued';

-- A reply that a process of the previous version left streaming has no job, so no instance would ever end it (an
-- instance with Redis no longer ends every streaming reply at its start): it ends here, as that start would have.
-- A process of the previous version still writing one overwrites this with its final state.
update public.messages
set status = 'failed', error_code = 'AI_FAILED', error_message = 'The reply was interrupted when the server stopped',
    updated_at = now()
where status = 'streaming';

-- Replies are written through their job now (ai_start_job, ai_checkpoint_job, ai_finish_job): nothing else may
-- change one, so the unfenced writer goes.
drop function public.ai_update_reply(uuid, text, text, text, text);

alter table chat_private.ai_jobs enable row level security;
revoke all on chat_private.ai_jobs from public, anon, authenticated;
grant select, insert, update, delete on chat_private.ai_jobs to service_role;

-- Queues the reply to a stored user message. Nothing when the message already has a job or a reply (a repeated
-- call changes nothing); the job's id when it was queued.
create function public.ai_enqueue_job(p_question_id uuid, p_asked_by uuid, p_over_limit_ms integer)
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
    on conflict (question_id) do nothing
    returning j.id
  $$;

-- Claims up to p_limit jobs for instance p_owner, at most one per room: the queued job with the lowest question
-- seq of each room that has no running job. Jobs another claim holds are skipped, not waited for.
create function public.ai_claim_jobs(
  p_owner uuid, p_limit integer, p_lease_ms integer, p_user_limit integer default 2147483647
)
  returns table (
    job_id uuid, room_id uuid, question_id uuid, question_seq bigint, asked_by uuid, over_limit_ms integer
  )
  language plpgsql set search_path = ''
  as $$
  #variable_conflict use_column
  declare
    v_job chat_private.ai_jobs;
    v_claimed integer := 0;
  begin
    for v_job in
      select j.* from chat_private.ai_jobs j
      where j.state = 'queued'
        and not exists (
          select 1 from chat_private.ai_jobs r where r.chatroom_id = j.chatroom_id and r.state = 'running'
        )
        and not exists (
          select 1 from chat_private.ai_jobs e
          where e.chatroom_id = j.chatroom_id and e.state = 'queued' and e.question_seq < j.question_seq
        )
      order by j.created_at, j.question_seq
      for update of j skip locked
    loop
      exit when v_claimed >= p_limit;
      -- Fairness: a user's replies in progress (on any instance) are capped, so their other rooms wait
      -- while other people's questions are answered.
      if v_job.asked_by is not null and (
        select count(*) from chat_private.ai_jobs u where u.asked_by = v_job.asked_by and u.state = 'running'
      ) >= p_user_limit then
        continue;
      end if;
      begin
        update chat_private.ai_jobs j
          set state = 'running', owner_id = p_owner,
              lease_until = now() + p_lease_ms * interval '1 millisecond',
              attempts = j.attempts + 1, updated_at = now()
          where j.id = v_job.id;
      exception
        -- Another claim took a job of this room at the same moment: the room is busy.
        when unique_violation or deadlock_detected then
          continue;
      end;
      v_claimed := v_claimed + 1;
      job_id := v_job.id;
      room_id := v_job.chatroom_id;
      question_id := v_job.question_id;
      question_seq := v_job.question_seq;
      asked_by := v_job.asked_by;
      over_limit_ms := v_job.over_limit_ms;
      return next;
    end loop;
  end
  $$;

-- Extends the leases of the jobs p_job_ids (a JSON array of ids) that p_owner holds; returns those it still holds
-- (one missing was taken over). A job its holder no longer works on is not renewed, and expires.
create function public.ai_renew_jobs(p_owner uuid, p_job_ids jsonb, p_lease_ms integer) returns table (job_id uuid)
  language sql set search_path = ''
  as $$
    update chat_private.ai_jobs j
    set lease_until = now() + p_lease_ms * interval '1 millisecond'
    where j.id in (select e.value::uuid from jsonb_array_elements_text(p_job_ids) e)
      and j.owner_id = p_owner and j.state = 'running'
    returning j.id
  $$;

-- Starts the reply of a job p_owner holds: its assistant message (streaming, empty, the room's next seq). Nothing
-- when the job is no longer p_owner's (taken over, or gone with its room) or has already started.
create function public.ai_start_job(p_job_id uuid, p_owner uuid) returns setof public.messages
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
    insert into public.messages (chatroom_id, role, sender_id, content, status, reply_to_id)
      values (v_job.chatroom_id, 'assistant', null, '', 'streaming', v_job.question_id)
      returning * into v_reply;
    update chat_private.ai_jobs j set reply_id = v_reply.id, updated_at = now() where j.id = p_job_id;
    return next v_reply;
  end
  $$;

-- Stores the text so far of a streaming reply whose job p_owner still holds.
create function public.ai_checkpoint_job(p_job_id uuid, p_owner uuid, p_content text)
  returns setof public.messages
  language sql set search_path = ''
  as $$
    update public.messages m
    set content = p_content, updated_at = now()
    from chat_private.ai_jobs j
    where j.id = p_job_id and j.owner_id = p_owner and j.state = 'running'
      and m.id = j.reply_id and m.status = 'streaming'
    returning m.*
  $$;

-- Ends a job p_owner holds: its reply (if it started) is stored with its final text and status, and the job goes.
-- Nothing when the job is no longer p_owner's: whoever took it over has ended the reply.
create function public.ai_finish_job(
  p_job_id uuid, p_owner uuid, p_content text, p_status text, p_error_code text, p_error_message text
) returns setof public.messages
  language plpgsql set search_path = ''
  as $$
  declare
    v_reply uuid;
  begin
    if p_status not in ('complete', 'truncated', 'failed', 'cancelled') then
      raise exception using errcode = 'CH400', message = 'A reply ends complete, truncated, failed or cancelled';
    end if;
    delete from chat_private.ai_jobs j
      where j.id = p_job_id and j.owner_id = p_owner and j.state = 'running'
      returning j.reply_id into v_reply;
    if not found then
      return;
    end if;
    return query
      update public.messages m
      set content = p_content, status = p_status, error_code = p_error_code, error_message = p_error_message,
          updated_at = now()
      where m.id = v_reply and m.status = 'streaming'
      returning m.*;
  end
  $$;

-- Takes over running jobs whose holder is gone: those whose lease has expired, every one of p_owner, or with p_all
-- every running job (a lone instance at its start). A reply they had started ends failed / AI_FAILED with the text
-- stored so far, and its job goes; a job not started yet is queued again (given up after 3 claims). Returns the
-- replies ended here, for their rooms to hear.
create function public.ai_take_over_jobs(p_owner uuid, p_all boolean) returns setof public.messages
  language sql set search_path = ''
  as $$
    with taken as (
      select j.id, j.reply_id, j.attempts from chat_private.ai_jobs j
      where j.state = 'running' and (p_all or j.lease_until < now() or j.owner_id = p_owner)
      for update skip locked
    ), requeued as (
      update chat_private.ai_jobs j
      set state = 'queued', owner_id = null, lease_until = null, updated_at = now()
      from taken t
      where j.id = t.id and t.reply_id is null and t.attempts < 3
    ), ended as (
      delete from chat_private.ai_jobs j
      using taken t
      where j.id = t.id and (t.reply_id is not null or t.attempts >= 3)
    )
    update public.messages m
    set status = 'failed', error_code = 'AI_FAILED', error_message = 'The server writing this reply stopped',
        updated_at = now()
    from taken t
    where m.id = t.reply_id and m.status = 'streaming'
    returning m.*
  $$;

revoke all on function public.ai_enqueue_job(uuid, uuid, integer), public.ai_claim_jobs(uuid, integer, integer, integer),
  public.ai_renew_jobs(uuid, jsonb, integer), public.ai_start_job(uuid, uuid), public.ai_checkpoint_job(uuid, uuid, text),
  public.ai_finish_job(uuid, uuid, text, text, text, text), public.ai_take_over_jobs(uuid, boolean)
  from public, anon, authenticated;
grant execute on function public.ai_enqueue_job(uuid, uuid, integer), public.ai_claim_jobs(uuid, integer, integer, integer),
  public.ai_renew_jobs(uuid, jsonb, integer), public.ai_start_job(uuid, uuid), public.ai_checkpoint_job(uuid, uuid, text),
  public.ai_finish_job(uuid, uuid, text, text, text, text), public.ai_take_over_jobs(uuid, boolean)
  to service_role;
