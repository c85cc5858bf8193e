-- "Mine" for a client that reads messages (PROTOCOL.md §3 Reactions): the emoji the caller reacted with, on the
-- messages of a page it reads. Room broadcasts carry counts only (one payload for everyone); a live client knows
-- its own from the reaction deltas' profileId, a returning one from this.

-- The caller's reactions to these messages (p_message_ids: a JSON array of ids) of a room. Security invoker: the
-- reactions' RLS shows a member the room's reactions, and only the caller's are taken.
create function public.my_reactions(p_room_id uuid, p_message_ids jsonb)
  returns table (message_id uuid, emoji text)
  language sql stable set search_path = ''
  as $$
    select r.message_id, r.emoji
    from public.message_reactions r
    where r.profile_id = (select auth.uid())
      and r.chatroom_id = p_room_id
      and r.message_id in (select e.value::uuid from jsonb_array_elements_text(p_message_ids) e)
    order by r.message_id, r.created_at, r.emoji
  $$;
revoke all on function public.my_reactions(uuid, jsonb) from public, anon;
grant execute on function public.my_reactions(uuid, jsonb) to authenticated, service_role;
