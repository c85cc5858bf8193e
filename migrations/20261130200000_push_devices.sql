-- Push notifications: the devices a person registered (an Expo push token each), and what the server reads to decide
-- who gets a push for a stored message.
--
-- A token names one app installation on one device: it belongs to one profile at a time. Registering it as someone
-- else (another account signs in on the same phone) moves it, so the phone never shows the previous account's
-- messages. A profile keeps at most 20 devices; registering one more forgets the one registered least recently.

create table public.push_devices (
  token text primary key check (token ~ '^(ExponentPushToken|ExpoPushToken)\[[A-Za-z0-9_-]{1,200}\]$'),
  profile_id uuid not null references public.profiles (id) on delete cascade,
  platform text not null check (platform in ('ios', 'android', 'web')),
  locale text check (locale ~ '^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8}){0,7}$' and char_length(locale) <= 35),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index push_devices_profile_idx on public.push_devices (profile_id, updated_at);

alter table public.push_devices enable row level security;
-- A person sees and removes only their own devices; registering goes through register_push_device (a token may
-- have to move from another profile, which no policy of the caller's allows).
create policy push_devices_select on public.push_devices for select to authenticated
  using (profile_id = (select auth.uid()));
create policy push_devices_delete on public.push_devices for delete to authenticated
  using (profile_id = (select auth.uid()));
revoke all on public.push_devices from public, anon, authenticated;
grant select, delete on public.push_devices to authenticated;
grant all on public.push_devices to service_role;

-- Registers (or refreshes) a device of the caller; a token registered by another profile moves to the caller.
create function public.register_push_device(p_token text, p_platform text, p_locale text)
  returns table (token text, platform text, locale text, created_at timestamptz, updated_at timestamptz)
  language plpgsql security definer set search_path = ''
  as $$
  #variable_conflict use_column
  declare
    v_uid uuid := chat_private.require_uid();
  begin
    return query
      insert into public.push_devices as d (token, profile_id, platform, locale)
      values (p_token, v_uid, p_platform, p_locale)
      on conflict (token) do update
        set profile_id = excluded.profile_id, platform = excluded.platform, locale = excluded.locale,
            updated_at = now(),
            created_at = case when d.profile_id = excluded.profile_id then d.created_at else now() end
      returning d.token, d.platform, d.locale, d.created_at, d.updated_at;
    delete from public.push_devices d
      where d.profile_id = v_uid and d.token in (
        select o.token from public.push_devices o where o.profile_id = v_uid
        order by o.updated_at desc, o.token offset 20
      );
  end
  $$;

-- The caller's devices, the most recently registered first.
create function public.list_push_devices()
  returns table (token text, platform text, locale text, created_at timestamptz, updated_at timestamptz)
  language sql stable set search_path = ''
  as $$
    select d.token, d.platform, d.locale, d.created_at, d.updated_at from public.push_devices d
    where d.profile_id = (select auth.uid())
    order by d.updated_at desc, d.token
  $$;

-- Removes one of the caller's devices; true when it was theirs (RLS: another's token is not seen, nothing changes).
create function public.unregister_push_device(p_token text) returns table (removed boolean)
  language sql set search_path = ''
  as $$
    with gone as (
      delete from public.push_devices d where d.token = p_token and d.profile_id = (select auth.uid()) returning 1
    )
    select exists (select 1 from gone)
  $$;

-- Service: removes tokens the push service refused (DeviceNotRegistered), or, with p_profile_id, one device at
-- sign-out (only while it is that profile's). p_tokens is a JSON array of tokens.
create function public.remove_push_tokens(p_tokens jsonb, p_profile_id uuid) returns table (token text)
  language sql set search_path = ''
  as $$
    delete from public.push_devices d
    where d.token in (select jsonb_array_elements_text(p_tokens))
      and (p_profile_id is null or d.profile_id = p_profile_id)
    returning d.token
  $$;

-- Service: who may get a push for a stored message, with what the decision needs: members of its room who did not
-- write it, have not muted the room, have a device, and have not read it (last_read_seq < seq). An assistant
-- message concerns only the asker (the sender of the message it replies to); a system notice nobody. One row per
-- member, their tokens as a JSON array, the room's name and the sender's display name. (plpgsql: its query is
-- planned at its first call, so this file does not depend on the order read state's migration was applied in.)
create function public.push_targets(p_message_id uuid)
  returns table (profile_id uuid, last_read_seq bigint, tokens jsonb, room_name text, sender_name text)
  language plpgsql stable set search_path = ''
  as $$
  begin
    return query
    select rr.profile_id, rr.last_read_seq, devices.tokens, c.name, coalesce(sender.display_name, 'Assistant')
    from public.messages m
    join public.chatrooms c on c.id = m.chatroom_id
    left join public.profiles sender on sender.id = m.sender_id
    left join public.messages question on question.id = m.reply_to_id
    join public.room_reads rr on rr.chatroom_id = m.chatroom_id
    cross join lateral (
      select jsonb_agg(d.token order by d.updated_at desc) as tokens
      from public.push_devices d where d.profile_id = rr.profile_id
    ) devices
    where m.id = p_message_id
      and rr.last_read_seq < m.seq
      and not rr.muted
      and devices.tokens is not null
      and case m.role
        when 'user' then rr.profile_id is distinct from m.sender_id
        when 'assistant' then rr.profile_id = question.sender_id
        else false
      end;
  end
  $$;

revoke all on function public.register_push_device(text, text, text), public.list_push_devices(),
  public.unregister_push_device(text), public.remove_push_tokens(jsonb, uuid), public.push_targets(uuid)
  from public, anon, authenticated;
grant execute on function public.register_push_device(text, text, text), public.list_push_devices(),
  public.unregister_push_device(text) to authenticated, service_role;
grant execute on function public.remove_push_tokens(jsonb, uuid), public.push_targets(uuid) to service_role;
