-- Supabase mode: the caller's profile is created on first sight, from their access token's claims.

-- The caller's profile, created if they have none: username from the hint (a-z 0-9 _, made unique with a
-- suffix when taken), display name from the hint or the username.
create function public.ensure_profile(p_username_hint text, p_display_name text, p_avatar_url text)
  returns setof public.profiles
  language plpgsql set search_path = ''
  as $$
  declare
    v_uid uuid := chat_private.require_uid();
    v_base text;
    v_name text;
    v_tries integer := 0;
  begin
    return query select * from public.profiles p where p.id = v_uid;
    if found then
      return;
    end if;
    v_base := trim(both '_' from left(regexp_replace(lower(coalesce(p_username_hint, '')), '[^a-z0-9_]+', '_', 'g'), 24));
    if length(v_base) < 3 then
      v_base := 'user';
    end if;
    v_name := v_base;
    loop
      begin
        insert into public.profiles (id, username, display_name, avatar_url)
          values (
            v_uid,
            v_name,
            left(coalesce(nullif(trim(p_display_name), ''), v_name), 64),
            case when char_length(p_avatar_url) <= 2048 then p_avatar_url end
          );
        exit;
      exception
        when unique_violation then
          -- A concurrent first sight of the same caller won, or the username is taken: try another.
          exit when exists (select 1 from public.profiles p where p.id = v_uid);
          v_tries := v_tries + 1;
          if v_tries > 20 then
            raise;
          end if;
          v_name := v_base || '_' || substr(md5(random()::text || clock_timestamp()::text), 1, 6);
      end;
    end loop;
    return query select * from public.profiles p where p.id = v_uid;
  end
  $$;

-- The readiness probe of drivers that reach the database through PostgREST.
create function public.ping() returns integer
  language sql stable set search_path = ''
  as $$ select 1 $$;

grant execute on function public.ping() to anon, authenticated, service_role;
