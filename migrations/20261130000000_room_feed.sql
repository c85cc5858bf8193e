-- Several instances: what an instance reads to repair its room feed (a message stored by another instance
-- whose event never arrived: that instance died between commit and publish, or Redis was away).
-- Service only: the instance reads on behalf of the sockets it serves, which joined the room as members.

-- The stored messages of a room strictly between two seqs, oldest first, at most p_limit (1–100).
create function public.feed_messages(p_room_id uuid, p_after_seq bigint, p_before_seq bigint, p_limit integer)
  returns setof public.messages
  language sql stable set search_path = ''
  as $$
    select * from public.messages m
    where m.chatroom_id = p_room_id and m.seq > p_after_seq and m.seq < p_before_seq
    order by m.seq
    limit least(greatest(p_limit, 1), 100)
  $$;

-- The last seq of each of the given rooms (a JSON array of ids; rooms that no longer exist are left out).
create function public.feed_last_seqs(p_room_ids jsonb)
  returns table (id uuid, last_seq bigint)
  language sql stable set search_path = ''
  as $$
    select c.id, c.last_seq from public.chatrooms c
    where c.id in (select e::uuid from jsonb_array_elements_text(p_room_ids) as e)
  $$;

revoke all on function public.feed_messages(uuid, bigint, bigint, integer), public.feed_last_seqs(jsonb)
  from public, anon, authenticated;
grant execute on function public.feed_messages(uuid, bigint, bigint, integer), public.feed_last_seqs(jsonb)
  to service_role;
