-- A group commit tells, for each message it stored, whether anyone may get a push for it: another member of the
-- room who has not muted it and has a push device. When nobody may, the server asks nothing more (no push_targets
-- query per message: most rooms have no mobile member, and the question used to cost every send a second query).
-- It is a superset of push_targets' answer, read in the transaction that stored the message; push_targets still
-- decides who gets one (unread, not blocked, not withheld, not in the room).
--
-- Only the group function (the server's own connection) computes it: public.post_message, which a Supabase project
-- serves to its users through PostgREST, keeps its answer, so no user learns whether others have devices.

alter type chat_private.grouped_post add attribute push_candidates boolean;

-- Security definer: the caller is the group function, whatever role it runs as; RLS hides others' devices.
create function chat_private.has_push_candidates(p_room_id uuid, p_sender_id uuid) returns boolean
  language sql stable security definer set search_path = ''
  as $$
    select exists (
      select 1 from public.room_reads rr
      join public.push_devices d on d.profile_id = rr.profile_id
      where rr.chatroom_id = p_room_id and rr.profile_id <> p_sender_id and not rr.muted
    )
  $$;
revoke all on function chat_private.has_push_candidates(uuid, uuid) from public, anon, authenticated, service_role;

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
        select v_index, null::text, null::text, p.*, null::boolean into strict v_out
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
      -- As the caller again (the only role that may run the question), for a message this call stored.
      if v_out.failed_code is null and not v_out.duplicate then
        perform set_config('role', v_role, true);
        v_out.push_candidates := chat_private.has_push_candidates(v_out.chatroom_id, v_out.sender_id);
      end if;
      return next v_out;
    end loop;
    perform set_config('role', v_role, true),
      set_config('request.jwt.claims', v_claims, true),
      set_config('request.jwt.claim.sub', v_sub, true);
  end
  $$;
revoke all on function chat_private.post_message_group(jsonb) from public, anon, authenticated, service_role;
