-- Assistant replies: written by the service (role service_role) only; read by members like any message.

-- The room's AI settings and size, for the reply to a question in it.
create function public.ai_room(p_room_id uuid)
  returns table (id uuid, name text, ai_mode text, ai_system_prompt text, ai_model text, member_count integer)
  language sql stable set search_path = ''
  as $$
    select c.id, c.name, c.ai_mode, c.ai_system_prompt, c.ai_model,
           (select count(*)::integer from public.chatroom_members m where m.chatroom_id = c.id)
    from public.chatrooms c
    where c.id = p_room_id
  $$;

-- The conversation a reply sees: the newest p_limit user and system messages up to and including the
-- question, and the finished replies to those of them asked before it. Only complete and truncated
-- messages count. Bounded by p_limit, whatever the room's length.
create function public.ai_context(p_room_id uuid, p_question_id uuid, p_limit integer)
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
      and r.reply_to_id in (select a.id from asked a where a.id <> p_question_id)
  $$;

-- Starts a reply: an assistant message with the room's next seq.
create function public.ai_create_reply(p_room_id uuid, p_reply_to_id uuid) returns setof public.messages
  language sql set search_path = ''
  as $$
    insert into public.messages (chatroom_id, role, sender_id, content, status, reply_to_id)
    values (p_room_id, 'assistant', null, '', 'streaming', p_reply_to_id)
    returning *
  $$;

-- Stores a reply's text and status (a checkpoint while streaming, or its final state).
create function public.ai_update_reply(
  p_message_id uuid, p_content text, p_status text, p_error_code text, p_error_message text
) returns setof public.messages
  language sql set search_path = ''
  as $$
    update public.messages m
    set content = p_content, status = p_status, error_code = p_error_code, error_message = p_error_message,
        updated_at = now()
    where m.id = p_message_id and m.role = 'assistant'
    returning *
  $$;

-- At start: a reply that a stopped process left streaming will never finish; it ends as failed with its text.
create function public.ai_fail_interrupted_replies() returns setof public.messages
  language sql set search_path = ''
  as $$
    update public.messages m
    set status = 'failed', error_code = 'AI_FAILED',
        error_message = 'The reply was interrupted when the server stopped', updated_at = now()
    where m.status = 'streaming'
    returning *
  $$;

create index messages_streaming_idx on public.messages (chatroom_id) where status = 'streaming';

-- A message of a room by id, for a member (ai:stop names one).
create function public.get_message(p_room_id uuid, p_message_id uuid) returns setof public.messages
  language plpgsql stable set search_path = ''
  as $$
  begin
    perform chat_private.require_uid();
    perform chat_private.member_room(p_room_id);
    return query select * from public.messages m where m.chatroom_id = p_room_id and m.id = p_message_id;
  end
  $$;

revoke all on function public.ai_room(uuid), public.ai_context(uuid, uuid, integer),
  public.ai_create_reply(uuid, uuid), public.ai_update_reply(uuid, text, text, text, text),
  public.ai_fail_interrupted_replies()
  from public, anon, authenticated;
grant execute on function public.ai_room(uuid), public.ai_context(uuid, uuid, integer),
  public.ai_create_reply(uuid, uuid), public.ai_update_reply(uuid, text, text, text, text),
  public.ai_fail_interrupted_replies()
  to service_role;

