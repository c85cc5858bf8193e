-- Local sign-in sessions that outlive an access token: refresh tokens. The server hands a client an opaque token
-- (256 random bits) and keeps only its SHA-256, so this table leaks no usable token. Each use exchanges the token
-- for a new one of the same family (rotation); a token that was already exchanged and is presented again is a
-- reuse — one of the two holders is not the user — and revokes its whole family. A token lives until its
-- expires_at; a family until it is revoked (logout, reuse) or its newest token expires.
--
-- For the service only (role service_role): no client role may see the table or call these functions.

create table chat_private.refresh_tokens (
  id uuid primary key default gen_random_uuid(),
  -- SHA-256 of the token, lower-case hex. The token itself is never stored.
  token_hash text not null unique check (token_hash ~ '^[0-9a-f]{64}$'),
  -- The sign-in this token descends from: every rotation keeps it.
  family_id uuid not null,
  profile_id uuid not null references public.profiles (id) on delete cascade,
  -- The token this one replaced (null for the first of a family).
  rotated_from uuid references chat_private.refresh_tokens (id) on delete set null,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  -- When it was exchanged for its successor: presented again after that, it is a reuse.
  used_at timestamptz,
  revoked_at timestamptz
);
create index refresh_tokens_family_idx on chat_private.refresh_tokens (family_id);
create index refresh_tokens_profile_idx on chat_private.refresh_tokens (profile_id, expires_at);
create index refresh_tokens_rotated_from_idx on chat_private.refresh_tokens (rotated_from)
  where rotated_from is not null;

alter table chat_private.refresh_tokens enable row level security;
-- No policy: no client role reads or writes a row, whatever it is granted.
revoke all on chat_private.refresh_tokens from public, anon, authenticated;
grant select, insert, update, delete on chat_private.refresh_tokens to service_role;

-- Ends a session: every token of the family not revoked yet.
create function chat_private.revoke_refresh_family(p_family_id uuid) returns void
  language sql set search_path = ''
  as $$
    update chat_private.refresh_tokens t set revoked_at = now()
    where t.family_id = p_family_id and t.revoked_at is null
  $$;
revoke all on function chat_private.revoke_refresh_family(uuid) from public, anon, authenticated;
grant execute on function chat_private.revoke_refresh_family(uuid) to service_role;

-- A new family (a sign-in) for a profile: its first token, living p_ttl_seconds. The profile's tokens past their
-- time go at the same moment (one that expired answers like one never issued).
create function public.local_issue_refresh_token(p_profile_id uuid, p_token_hash text, p_ttl_seconds integer)
  returns table (expires_at timestamptz)
  language plpgsql set search_path = ''
  as $$
  #variable_conflict use_column
  begin
    delete from chat_private.refresh_tokens t where t.profile_id = p_profile_id and t.expires_at < now();
    return query
      insert into chat_private.refresh_tokens as t (token_hash, family_id, profile_id, expires_at)
      values (p_token_hash, gen_random_uuid(), p_profile_id, now() + p_ttl_seconds * interval '1 second')
      returning t.expires_at;
  end
  $$;

-- Exchanges a token for a new one of its family (p_new_token_hash, living p_ttl_seconds), in one transaction: the
-- token row is locked, so of two exchanges of one token the second sees the first's and counts as a reuse.
-- outcome: 'rotated' with the profile and the new token's expires_at; 'reused' (the family is revoked, here, in this
-- transaction) with the profile's id; 'revoked'; 'invalid' (unknown or expired). Never raises for a bad token: the
-- revocation of a reuse must commit.
create function public.local_rotate_refresh_token(p_token_hash text, p_new_token_hash text, p_ttl_seconds integer)
  returns table (
    outcome text, id uuid, username text, display_name text, avatar_url text, created_at timestamptz,
    refresh_expires_at timestamptz
  )
  language plpgsql set search_path = ''
  as $$
  #variable_conflict use_column
  declare
    v chat_private.refresh_tokens;
  begin
    select * into v from chat_private.refresh_tokens t where t.token_hash = p_token_hash for update;
    if not found or v.expires_at <= now() then
      outcome := 'invalid';
    elsif v.revoked_at is not null then
      outcome := 'revoked';
    elsif v.used_at is not null then
      perform chat_private.revoke_refresh_family(v.family_id);
      outcome := 'reused';
      id := v.profile_id;
    else
      update chat_private.refresh_tokens t set used_at = now() where t.id = v.id;
      insert into chat_private.refresh_tokens as t (token_hash, family_id, profile_id, rotated_from, expires_at)
        values (p_new_token_hash, v.family_id, v.profile_id, v.id, now() + p_ttl_seconds * interval '1 second')
        returning t.expires_at into refresh_expires_at;
      select 'rotated', p.id, p.username, p.display_name, p.avatar_url, p.created_at
        into outcome, id, username, display_name, avatar_url, created_at
        from public.profiles p where p.id = v.profile_id;
    end if;
    return next;
  end
  $$;

-- Logout: revokes the family of a token, whatever state the token is in. The profile it belonged to, or no row for a
-- token never issued (or gone with its time).
create function public.local_revoke_refresh_token(p_token_hash text)
  returns table (profile_id uuid)
  language plpgsql set search_path = ''
  as $$
  #variable_conflict use_column
  declare
    v chat_private.refresh_tokens;
  begin
    select * into v from chat_private.refresh_tokens t where t.token_hash = p_token_hash;
    if found then
      perform chat_private.revoke_refresh_family(v.family_id);
      profile_id := v.profile_id;
      return next;
    end if;
  end
  $$;

-- Service only (Supabase grants new functions to anon and authenticated by default).
revoke all on function public.local_issue_refresh_token(uuid, text, integer),
  public.local_rotate_refresh_token(text, text, integer), public.local_revoke_refresh_token(text)
  from public, anon, authenticated;
grant execute on function public.local_issue_refresh_token(uuid, text, integer),
  public.local_rotate_refresh_token(text, text, integer), public.local_revoke_refresh_token(text)
  to service_role;
