/**
 * The persistence contract a third time, through the supabase driver: supabase-js `.rpc()` → the PostgREST
 * stand-in (test/support/postgrest-standin.ts) → a fresh, migrated database on the real PostgreSQL server of
 * the test run. A user's call carries an access token minted for that user by the fake Supabase Auth
 * (ES256, verified by the stand-in against its JWKS), so the database runs it as `authenticated` with the
 * token's claims and row-level security applies. Then what only this driver has: the token it sends, the
 * PostgREST errors it maps, its rows compared with the pg driver's.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { AppException } from '../../src/common/errors/app.exception';
import { ErrorCode } from '../../src/common/errors/error-code';
import {
  SERVICE_ACTOR,
  userActor,
  type Actor,
  type Database,
  type GroupableFunction,
  type UserActor,
} from '../../src/modules/persistence/database.port';
import { PgDatabase } from '../../src/modules/persistence/drivers/pg.database';
import { SupabaseDatabase } from '../../src/modules/persistence/drivers/supabase.database';
import { runMigrations } from '../../src/modules/persistence/migration-runner';
import { createDatabase } from '../support/postgres-server';
import { startPostgrestStandIn, type PostgrestStandIn } from '../support/postgrest-standin';
import {
  newJwtSecret,
  signHs256,
  startSupabaseAuth,
  supabaseClaims,
  type SupabaseAuth,
} from '../support/supabase-auth';
import { openOncePerFile, persistenceContract, type PersistenceDriver } from './persistence-contract';
import { refreshTokensContract } from './refresh-tokens-contract';

interface SupabaseDriver extends PersistenceDriver {
  /** The driver itself: user actors must bring their own token. */
  supabase: SupabaseDatabase;
  /** The pg driver on the same database, as the database owner: the reference the rows are compared with. */
  pg: PgDatabase;
  standIn: PostgrestStandIn;
  auth: SupabaseAuth;
  jwtSecret: string;
  /** The access token of a user (minted once per id), as Supabase Auth would give that user. */
  tokenFor(id: string): Promise<string>;
}

/**
 * The contract acts as `userActor(id)`: a Supabase user's call needs that user's own access token, so
 * the port handed to the contract mints one for the id (once) and passes it on with the actor.
 */
function withUserTokens(inner: Database, tokenFor: (id: string) => Promise<string>): Database {
  const withToken = async (actor: UserActor) =>
    userActor(actor.id, actor.claims, actor.accessToken ?? (await tokenFor(actor.id)));
  return {
    driver: inner.driver,
    async call(actor: Actor, fn: string, args?: Record<string, unknown>) {
      return inner.call(actor.kind === 'user' ? await withToken(actor) : actor, fn, args);
    },
    async callGrouped(actor: UserActor, fn: GroupableFunction, args: Record<string, unknown>) {
      return inner.callGrouped(await withToken(actor), fn, args);
    },
    ping: (timeoutMs) => inner.ping(timeoutMs),
    observe: (observer, groups) => inner.observe(observer, groups),
    close: () => inner.close(),
  } as Database;
}

async function openSupabaseDriver(): Promise<SupabaseDriver> {
  const adminUrl = process.env.TEST_PG_URL;
  if (!adminUrl) {
    throw new Error('TEST_PG_URL is not set: is test/global-setup.ts configured as jest globalSetup?');
  }
  const connectionString = await createDatabase(adminUrl);
  const pg = new PgDatabase('postgres', { connectionString, max: 4 });
  const opened: { close(): Promise<unknown> }[] = [pg];
  const closeAll = async () => {
    for (const resource of opened.reverse()) {
      await resource.close();
    }
  };
  try {
    await runMigrations(pg);
    const auth = await startSupabaseAuth();
    opened.push(auth);
    const jwtSecret = newJwtSecret();
    const standIn = await startPostgrestStandIn({ databaseUrl: connectionString, jwtSecret, auth });
    opened.push(standIn);
    const supabase = new SupabaseDatabase({
      url: standIn.url,
      anonKey: standIn.anonKey,
      serviceRoleKey: standIn.serviceRoleKey,
    });
    opened.push(supabase);
    const tokens = new Map<string, Promise<string>>();
    const tokenFor = (id: string): Promise<string> => {
      let token = tokens.get(id);
      if (!token) {
        token = auth.mintToken({ sub: id, email: `${id}@example.test` });
        tokens.set(id, token);
      }
      return token;
    };
    return {
      db: withUserTokens(supabase, tokenFor),
      supabase,
      pg,
      standIn,
      auth,
      jwtSecret,
      tokenFor,
      close: closeAll,
    };
  } catch (error) {
    await closeAll();
    throw error;
  }
}

const driver = openOncePerFile(openSupabaseDriver);

persistenceContract('supabase', driver);
refreshTokensContract('supabase', driver);

interface Profile {
  id: string;
  username: string;
}

interface Room {
  id: string;
  name: string;
  last_seq: number;
  my_role: string | null;
}

describe('supabase driver', () => {
  const d = () => driver.current;
  const uniqueName = (prefix: string) => `${prefix}_${randomBytes(6).toString('hex')}`;

  /** A user registered through the service, with the access token Supabase Auth would give them. */
  async function register(prefix = 'sb'): Promise<Profile & { token: string; actor: UserActor }> {
    const [profile] = await d().supabase.call<Profile>(SERVICE_ACTOR, 'local_register', {
      p_username: uniqueName(prefix),
      p_display_name: `Name of ${prefix}`,
      p_password_hash: 'not-used',
    });
    const token = await d().tokenFor(profile.id);
    return { ...profile, token, actor: userActor(profile.id, undefined, token) };
  }

  async function privateRoomOf(owner: { actor: UserActor }, content = 'secret'): Promise<Room> {
    const [room] = await d().supabase.call<Room>(owner.actor, 'create_room', {
      p_name: uniqueName('private'),
      p_visibility: 'private',
      p_ai_mode: 'off',
      p_ai_system_prompt: null,
      p_ai_model: null,
    });
    await d().supabase.call(owner.actor, 'post_message', {
      p_room_id: room.id,
      p_content: content,
      p_client_id: 'first',
    });
    return room;
  }

  /** What the owner sees of a room, to compare before and after a refused call. */
  async function ownerView(owner: { actor: UserActor }, roomId: string) {
    const call = (fn: string, args: Record<string, unknown>) => d().supabase.call(owner.actor, fn, args);
    return {
      room: await call('get_room', { p_room_id: roomId }),
      messages: await call('list_messages', { p_room_id: roomId, p_after_seq: null, p_before_seq: null, p_limit: 100 }),
      members: await call('list_members', { p_room_id: roomId }),
    };
  }

  async function failure(promise: Promise<unknown>): Promise<unknown> {
    try {
      await promise;
    } catch (error) {
      return error;
    }
    throw new Error('the call succeeded');
  }

  /** The contract's code of a refused call and the SQLSTATE (or PostgREST code) beneath it. */
  function refusal(error: unknown): { appCode?: string; sqlState?: unknown } {
    const cause = (error as { cause?: { code?: unknown } }).cause;
    return {
      appCode: error instanceof AppException ? error.code : undefined,
      sqlState: cause?.code ?? (error as { code?: unknown }).code,
    };
  }

  describe('the token a call carries', () => {
    it("should run a user's call as authenticated with that user's sub, and the service's as service_role", async () => {
      const from = d().standIn.calls.length;
      const user = await register();
      await d().supabase.call(user.actor, 'get_profile', { p_profile_id: user.id });

      const seen = d()
        .standIn.calls.slice(from)
        .filter((c) => c.sub === user.id || c.fn === 'local_register');
      expect(seen.map(({ fn, role, sub, status }) => ({ fn, role, sub, status }))).toEqual([
        { fn: 'local_register', role: 'service_role', sub: undefined, status: 200 },
        { fn: 'get_profile', role: 'authenticated', sub: user.id, status: 200 },
      ]);
    });

    it('should act as the subject of the token it sends, never as the id the server names', async () => {
      const owner = await register('owner');
      const other = await register('other');
      const room = await privateRoomOf(owner);
      const before = await ownerView(owner, room.id);
      // The owner's id with the other user's token: the database sees the token's subject only.
      const forged = userActor(owner.id, { sub: owner.id }, other.token);

      for (const [fn, args] of [
        ['get_room', { p_room_id: room.id }],
        ['list_messages', { p_room_id: room.id, p_after_seq: null, p_before_seq: null, p_limit: 100 }],
        ['post_message', { p_room_id: room.id, p_content: 'forged', p_client_id: null }],
        ['update_room', { p_room_id: room.id, p_patch: { name: 'taken over' } }],
        ['delete_room', { p_room_id: room.id }],
      ] as const) {
        expect(refusal(await failure(d().supabase.call(forged, fn, args)))).toEqual({
          appCode: ErrorCode.NOT_FOUND,
          sqlState: 'CH404',
        });
      }
      expect(await ownerView(owner, room.id)).toEqual(before);
    });

    it('should refuse a user call without a token as UNAUTHENTICATED and send nothing', async () => {
      const owner = await register('owner');
      const room = await privateRoomOf(owner);
      const before = await ownerView(owner, room.id);
      const requests = d().standIn.requests;

      const error = await failure(
        d().supabase.call(userActor(owner.id), 'post_message', {
          p_room_id: room.id,
          p_content: 'x',
          p_client_id: null,
        }),
      );

      expect(refusal(error).appCode).toBe(ErrorCode.UNAUTHENTICATED);
      expect(d().standIn.requests).toBe(requests);
      expect(await ownerView(owner, room.id)).toEqual(before);
    });

    it.each([
      ['expired', { expiresInSeconds: -120 }],
      ['signed with a key the project does not list', { kid: 'not-a-project-key' }],
      ['issued by the project for another role', { claims: { role: 'postgres' } }],
    ])('should refuse a call whose token is %s, storing nothing', async (_label, mint) => {
      const owner = await register('owner');
      const room = await privateRoomOf(owner);
      const before = await ownerView(owner, room.id);
      const bad = await d().auth.mintToken({ sub: owner.id, ...mint });

      const error = await failure(
        d().supabase.call(userActor(owner.id, undefined, bad), 'post_message', {
          p_room_id: room.id,
          p_content: 'with a bad token',
          p_client_id: null,
        }),
      );

      expect(error).toBeInstanceOf(AppException);
      expect(refusal(error).appCode).toMatch(/^(UNAUTHENTICATED|NOT_FOUND|FORBIDDEN)$/);
      expect(await ownerView(owner, room.id)).toEqual(before);
    });

    it("should accept a token signed with the project's legacy JWT secret (HS256)", async () => {
      const user = await register();
      const legacy = await signHs256(d().jwtSecret, supabaseClaims(d().auth.issuer, { sub: user.id }));
      const rows = await d().supabase.call<Profile>(userActor(user.id, undefined, legacy), 'get_profile', {
        p_profile_id: user.id,
      });
      expect(rows).toEqual([expect.objectContaining({ id: user.id, username: user.username })]);
    });
  });

  describe("row-level security through the driver: user B and user A's private room", () => {
    it("should show B nothing of A's private room, and A all of it", async () => {
      const a = await register('a');
      const b = await register('b');
      const room = await privateRoomOf(a, 'for members only');
      const [message] = await d().supabase.call<{ id: string }>(a.actor, 'find_my_message', {
        p_room_id: room.id,
        p_client_id: 'first',
      });
      const asB = (fn: string, args: Record<string, unknown>) => failure(d().supabase.call(b.actor, fn, args));

      for (const [fn, args] of [
        ['get_room', { p_room_id: room.id }],
        ['list_messages', { p_room_id: room.id, p_after_seq: null, p_before_seq: null, p_limit: 100 }],
        ['list_members', { p_room_id: room.id }],
        ['join_room', { p_room_id: room.id }],
        ['get_message', { p_room_id: room.id, p_message_id: message.id }],
      ] as const) {
        expect({ fn, ...refusal(await asB(fn, args)) }).toEqual({
          fn,
          appCode: ErrorCode.NOT_FOUND,
          sqlState: 'CH404',
        });
      }
      expect(await d().supabase.call(b.actor, 'find_my_message', { p_room_id: room.id, p_client_id: 'first' })).toEqual(
        [],
      );
      const mine = await d().supabase.call<Room>(b.actor, 'list_my_rooms', {});
      expect(mine.map((r) => r.id)).not.toContain(room.id);
      const found = await d().supabase.call<Room>(b.actor, 'list_public_rooms', { p_query: room.name, p_limit: 100 });
      expect(found).toEqual([]);

      const seenByA = await ownerView(a, room.id);
      expect(seenByA.room).toEqual([expect.objectContaining({ id: room.id, my_role: 'owner', last_seq: 1 })]);
      expect(seenByA.messages).toEqual([expect.objectContaining({ seq: 1, content: 'for members only' })]);
      expect(seenByA.members).toEqual([expect.objectContaining({ profile_id: a.id, role: 'owner' })]);
    });

    it("should let B read A's private room once A adds B, through B's own token", async () => {
      const a = await register('a');
      const b = await register('b');
      const room = await privateRoomOf(a, 'welcome');
      await d().supabase.call(a.actor, 'add_member', { p_room_id: room.id, p_username: b.username });

      const messages = await d().supabase.call(b.actor, 'list_messages', {
        p_room_id: room.id,
        p_after_seq: null,
        p_before_seq: null,
        p_limit: 100,
      });
      expect(messages).toEqual([expect.objectContaining({ seq: 1, content: 'welcome', sender_id: a.id })]);
    });

    it("should refuse B the service's functions (42501), so B cannot write as the assistant", async () => {
      const a = await register('a');
      const b = await register('b');
      const room = await privateRoomOf(a);
      const before = await ownerView(a, room.id);
      const [message] = (before.messages as { id: string }[]).slice(-1);

      for (const [fn, args] of [
        ['ai_create_reply', { p_room_id: room.id, p_reply_to_id: message.id }],
        ['ai_room', { p_room_id: room.id }],
        ['ai_fail_interrupted_replies', {}],
        ['local_sign_in', { p_username: a.username }],
      ] as const) {
        expect({ fn, sqlState: refusal(await failure(d().supabase.call(b.actor, fn, args))).sqlState }).toEqual({
          fn,
          sqlState: '42501',
        });
      }
      expect(await ownerView(a, room.id)).toEqual(before);
    });
  });

  describe('rows and errors, compared with the pg driver', () => {
    /** Times to ISO strings at millisecond precision (pg gives Dates, PostgREST strings with microseconds). */
    const normalized = (rows: unknown[]) =>
      JSON.parse(
        JSON.stringify(rows, (_key, value: unknown) =>
          typeof value === 'string' && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}/.test(value)
            ? new Date(value).toISOString()
            : value,
        ),
      );

    it('should return the same rows, with the same types, as the pg driver for every read', async () => {
      const owner = await register('owner');
      const member = await register('member');
      const room = await privateRoomOf(owner, 'first');
      await d().supabase.call(owner.actor, 'add_member', { p_room_id: room.id, p_username: member.username });
      await d().supabase.call(member.actor, 'post_message', {
        p_room_id: room.id,
        p_content: 'second',
        p_client_id: 'c-1',
      });
      const asPgUser = userActor(owner.id);

      for (const [fn, args] of [
        ['get_profile', { p_profile_id: member.id }],
        ['get_room', { p_room_id: room.id }],
        ['list_my_rooms', {}],
        ['list_members', { p_room_id: room.id }],
        ['list_messages', { p_room_id: room.id, p_after_seq: 0, p_before_seq: null, p_limit: 10 }],
      ] as const) {
        const viaSupabase = await d().supabase.call(owner.actor, fn, args);
        const viaPg = await d().pg.call(asPgUser, fn, args);
        expect({ fn, rows: normalized(viaSupabase) }).toEqual({ fn, rows: normalized(viaPg) });
        for (const row of viaSupabase) {
          for (const [column, value] of Object.entries(row)) {
            const reference = viaPg[0][column];
            if (typeof reference === 'number') {
              expect({ fn, column, type: typeof value }).toEqual({ fn, column, type: 'number' });
            }
          }
        }
      }
    });

    it.each<
      [string, (ctx: { owner: Profile; member: Profile; room: Room }) => [Actor | 'owner' | 'member', string, object]]
    >([
      [
        'a taken username',
        ({ owner }) => [
          SERVICE_ACTOR,
          'local_register',
          { p_username: owner.username, p_display_name: 'X', p_password_hash: 'h' },
        ],
      ],
      ['an unknown room', () => ['owner', 'get_room', { p_room_id: randomUUID() }]],
      [
        'a room id that is not a uuid',
        () => ['owner', 'get_room', { p_room_id: "'; drop table public.chatrooms; --" }],
      ],
      [
        'a member updating the room',
        ({ room }) => ['member', 'update_room', { p_room_id: room.id, p_patch: { name: 'x' } }],
      ],
      [
        'adding a member twice',
        ({ room, member }) => ['owner', 'add_member', { p_room_id: room.id, p_username: member.username }],
      ],
      [
        'content over the column limit',
        ({ room }) => [
          'owner',
          'post_message',
          { p_room_id: room.id, p_content: 'x'.repeat(200_001), p_client_id: null },
        ],
      ],
      ['a null display name', () => ['owner', 'update_my_profile', { p_patch: { display_name: null } }]],
      ['a user calling a service function', () => ['owner', 'local_sign_in', { p_username: 'anyone' }]],
      ['the service calling a user function', ({ room }) => [SERVICE_ACTOR, 'get_room', { p_room_id: room.id }]],
      [
        'a limit of the wrong type',
        ({ room }) => [
          'owner',
          'list_messages',
          { p_room_id: room.id, p_after_seq: null, p_before_seq: null, p_limit: 'ten' },
        ],
      ],
    ])('should refuse %s with the same contract code and SQLSTATE as the pg driver', async (_label, make) => {
      const owner = await register('owner');
      const member = await register('member');
      const room = await privateRoomOf(owner);
      await d().supabase.call(owner.actor, 'add_member', { p_room_id: room.id, p_username: member.username });
      const before = await ownerView(owner, room.id);
      const [who, fn, args] = make({ owner, member, room });
      const people = { owner, member };
      const asSupabase: Actor = typeof who === 'string' ? people[who].actor : who;
      const asPg: Actor = typeof who === 'string' ? userActor(people[who].id) : who;

      const viaSupabase = refusal(await failure(d().supabase.call(asSupabase, fn, args as Record<string, unknown>)));
      const viaPg = refusal(await failure(d().pg.call(asPg, fn, args as Record<string, unknown>)));

      expect(viaPg.appCode).toEqual(expect.any(String));
      expect(viaSupabase).toEqual(viaPg);
      expect(await ownerView(owner, room.id)).toEqual(before);
    });
  });

  describe('ping and observe', () => {
    it('should answer ping through the stand-in, and reject it when nothing listens', async () => {
      await expect(d().supabase.ping(5000)).resolves.toBeUndefined();

      const nowhere = new SupabaseDatabase({
        url: `${d().standIn.url}/nowhere`,
        anonKey: d().standIn.anonKey,
        serviceRoleKey: d().standIn.serviceRoleKey,
      });
      try {
        await expect(nowhere.ping(5000)).rejects.toThrow();
      } finally {
        await nowhere.close();
      }
    });

    it('should tell the observer of every call, ok or error', async () => {
      const seen: [string, string][] = [];
      const observed = new SupabaseDatabase({
        url: d().standIn.url,
        anonKey: d().standIn.anonKey,
        serviceRoleKey: d().standIn.serviceRoleKey,
      });
      try {
        observed.observe((fn, durationMs, outcome) => {
          expect(durationMs).toBeGreaterThanOrEqual(0);
          seen.push([fn, outcome]);
        });
        const user = await register();
        await observed.call(user.actor, 'get_profile', { p_profile_id: user.id });
        await failure(observed.call(user.actor, 'get_profile', { p_profile_id: randomUUID() }));
        expect(seen).toEqual([
          ['get_profile', 'ok'],
          ['get_profile', 'error'],
        ]);
      } finally {
        await observed.close();
      }
    });
  });
});

describe('PostgREST stand-in (the test double itself)', () => {
  const d = () => driver.current;
  const rpc = (fn: string, body: unknown, headers: Record<string, string>) =>
    fetch(`${d().standIn.url}/rest/v1/rpc/${fn}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    }).then(async (res) => ({ status: res.status, body: (await res.text()) || undefined }));
  const service = () => ({ apikey: d().standIn.anonKey, authorization: `Bearer ${d().standIn.serviceRoleKey}` });

  it('should require an apikey of the project and a valid bearer token', async () => {
    const user = await d().auth.mintToken();
    expect(await rpc('ping', {}, { authorization: `Bearer ${user}` })).toMatchObject({ status: 401 });
    expect(await rpc('ping', {}, { apikey: 'not-a-key', authorization: `Bearer ${user}` })).toMatchObject({
      status: 401,
    });
    const forged = await signHs256('not the secret', supabaseClaims(d().auth.issuer));
    for (const token of [forged, `${user}x`, await d().auth.mintToken({ kid: 'unlisted' })]) {
      const res = await rpc('ping', {}, { apikey: d().standIn.anonKey, authorization: `Bearer ${token}` });
      expect(res.status).toBe(401);
      expect(JSON.parse(res.body!)).toEqual({
        code: 'PGRST301',
        message: expect.any(String),
        details: null,
        hint: null,
      });
    }
    const expired = await d().auth.mintToken({ expiresInSeconds: -60 });
    const res = await rpc('ping', {}, { apikey: d().standIn.anonKey, authorization: `Bearer ${expired}` });
    expect({ status: res.status, code: JSON.parse(res.body!).code }).toEqual({ status: 401, code: 'PGRST303' });
    expect(await rpc('ping', {}, { apikey: d().standIn.anonKey, authorization: `Bearer ${user}` })).toEqual({
      status: 200,
      body: '1',
    });
  });

  it('should answer a set as a JSON array with int8 as numbers, void with 204, and errors in PostgREST shape', async () => {
    const username = `standin_${randomBytes(5).toString('hex')}`;
    const registered = await rpc(
      'local_register',
      { p_username: username, p_display_name: 'Stand In', p_password_hash: 'h' },
      service(),
    );
    expect(registered.status).toBe(200);
    const [profile] = JSON.parse(registered.body!);
    expect(profile).toMatchObject({ username, display_name: 'Stand In' });
    expect(profile.created_at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d+\+00:00$/);

    const token = await d().auth.mintToken({ sub: profile.id });
    const asUser = { apikey: d().standIn.anonKey, authorization: `Bearer ${token}` };
    const created = await rpc(
      'create_room',
      {
        p_name: 'stand-in room',
        p_visibility: 'private',
        p_ai_mode: 'off',
        p_ai_system_prompt: null,
        p_ai_model: null,
      },
      asUser,
    );
    const [room] = JSON.parse(created.body!);
    expect(room).toMatchObject({ last_seq: 0, my_role: 'owner' });
    expect(await rpc('leave_room', { p_room_id: room.id }, asUser)).toEqual({
      status: 400,
      body: expect.stringContaining('"code":"CH403"'),
    });
    expect(await rpc('delete_room', { p_room_id: room.id }, asUser)).toEqual({ status: 204, body: undefined });

    const duplicate = await rpc(
      'local_register',
      { p_username: username, p_display_name: 'Again', p_password_hash: 'h' },
      service(),
    );
    expect({ status: duplicate.status, body: JSON.parse(duplicate.body!) }).toEqual({
      status: 409,
      body: { code: '23505', message: expect.any(String), details: expect.any(String), hint: null },
    });
    const refused = await rpc('local_sign_in', { p_username: username }, asUser);
    expect({ status: refused.status, code: JSON.parse(refused.body!).code }).toEqual({ status: 403, code: '42501' });
    const unknown = await rpc('get_room', { p_room_id: room.id, p_extra: 1 }, asUser);
    expect({ status: unknown.status, code: JSON.parse(unknown.body!).code }).toEqual({ status: 404, code: 'PGRST202' });
    const wrongType = await rpc('get_room', { p_room_id: 42 }, asUser);
    expect({ status: wrongType.status, code: JSON.parse(wrongType.body!).code }).toEqual({
      status: 400,
      code: '22P02',
    });
  });
});
