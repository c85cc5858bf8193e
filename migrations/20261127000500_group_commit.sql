-- Group commit: several sends in one transaction, for the server's own connection (the embedded engine and
-- a Postgres server; a Supabase project served through PostgREST never calls this). Each send still runs as
-- its own user, role `authenticated` with their claims, so RLS and every check of post_message apply to it
-- exactly as to a single call, and each runs in its own subtransaction (a plpgsql exception block is a
-- savepoint), so one failing send fails alone and rolls back its own seq. The result of every send, or its
-- SQLSTATE and message, comes back as one row in item order.
--
-- Only the owner (the connection that runs the migrations and the server) may call it: it takes any
-- identity it is given. It lives in chat_private, which PostgREST does not expose, and is revoked from the
-- API roles, to which Supabase grants new functions by default.

create type chat_private.grouped_post as (
  item integer,
  failed_code text,
  failed_message text,
  id uuid,
  chatroom_id uuid,
  seq bigint,
  role text,
  sender_id uuid,
  content text,
  status text,
  client_id text,
  reply_to_id uuid,
  error_code text,
  error_message text,
  created_at timestamptz,
  updated_at timestamptz,
  duplicate boolean,
  room_ai_mode text
);

-- p_items: [{ "claims": {...}, "sub": "<uuid>", "args": { "p_room_id", "p_content", "p_client_id" } }, ...]
create function chat_private.post_message_group(p_items jsonb)
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
            v_item -> 'args' ->> 'p_client_id'
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
    -- Settings made with set_config(..., true) last until the transaction ends, not until the function returns
    -- (its `set search_path` restores only search_path): the caller gets its own identity back here.
    perform set_config('role', v_role, true),
      set_config('request.jwt.claims', v_claims, true),
      set_config('request.jwt.claim.sub', v_sub, true);
  end
  $$;

-- Supabase's default privileges grant new functions to the API roles: take that back too.
revoke all on function chat_private.post_message_group(jsonb) from public, anon, authenticated, service_role;
