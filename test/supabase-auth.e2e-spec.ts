/**
 * Supabase mode end to end: the app runs with SUPABASE_URL set to the PostgREST stand-in (which also serves
 * the project's JWKS, from the fake Supabase Auth), so it persists through supabase-js and verifies access
 * tokens against `<SUPABASE_URL>/auth/v1/.well-known/jwks.json`, issuer `<SUPABASE_URL>/auth/v1`, audience
 * `authenticated`. The app does not migrate in this mode: the file migrates its database first. A second app
 * on the same project also has the legacy JWT secret (SUPABASE_JWT_SECRET) and takes HS256 tokens.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Socket } from 'socket.io-client';
import { PgDatabase } from '../src/modules/persistence/drivers/pg.database';
import { runMigrations } from '../src/modules/persistence/migration-runner';
import { expectProblem, HttpClient, type HttpResult } from './support/http-client';
import { createDatabase } from './support/postgres-server';
import { startPostgrestStandIn, type PostgrestStandIn } from './support/postgrest-standin';
import { tamperedToken } from './support/realtime-helpers';
import { ack, connectSocket, refusedConnection } from './support/socket-client';
import {
  newJwtSecret,
  signHs256,
  startSupabaseAuth,
  supabaseClaims,
  unsignedToken,
  type MintOptions,
  type SupabaseAuth,
} from './support/supabase-auth';
import { startTestApp, type TestApp } from './support/test-app';

const USERNAME = /^[a-z0-9_]{3,32}$/;
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** jose's remote JWKS refetches on an unknown kid at most once per this cooldown (the server's setting, 1 s). */
const JWKS_COOLDOWN_MS = 1000;

const hex = (bytes = 4) => randomBytes(bytes).toString('hex');

describe('Supabase mode', () => {
  let auth: SupabaseAuth;
  let standIn: PostgrestStandIn;
  let jwtSecret: string;
  /** JWKS only. */
  let t: TestApp;
  /** JWKS and the legacy JWT secret. */
  let legacy: TestApp;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    const databaseUrl = await createDatabase(process.env.TEST_PG_URL!);
    const migrator = new PgDatabase('postgres', { connectionString: databaseUrl, max: 2 });
    try {
      await runMigrations(migrator);
    } finally {
      await migrator.close();
    }
    auth = await startSupabaseAuth();
    jwtSecret = newJwtSecret();
    standIn = await startPostgrestStandIn({ databaseUrl, jwtSecret, auth });
    const project = {
      SUPABASE_URL: standIn.url,
      SUPABASE_ANON_KEY: standIn.anonKey,
      SUPABASE_SERVICE_ROLE_KEY: standIn.serviceRoleKey,
    };
    t = await startTestApp(project);
    legacy = await startTestApp({ ...project, SUPABASE_JWT_SECRET: jwtSecret });
  });

  afterEach(() => {
    for (const socket of sockets.splice(0)) {
      socket.close();
    }
  });

  afterAll(async () => {
    await t?.close();
    await legacy?.close();
    await standIn?.close();
    await auth?.close();
  });

  const client = (token?: string, app: TestApp = t) => new HttpClient(app.url, token);

  /** A fresh Supabase user: a token from the project's current key and the profile the app made for it. */
  async function signedIn(mint: MintOptions = {}, app: TestApp = t) {
    const sub = mint.sub ?? randomUUID();
    const token = await auth.mintToken({ email: `user.${hex()}@example.test`, ...mint, sub });
    const me = await client(token, app).get('/api/profiles/me');
    expect(me.status).toBe(200);
    return { id: sub, token, profile: me.body, http: client(token, app) };
  }

  /** The profile of `id` as another signed-in user sees it (404: the app never created it). */
  async function profileStatus(id: string): Promise<number> {
    const observer = await signedIn();
    return (await observer.http.get(`/api/profiles/${id}`)).status;
  }

  /** The 401 problem of PROTOCOL §2, which never echoes the token. */
  function expectUnauthenticated(res: HttpResult, token: string): void {
    expectProblem(res, 401, 'UNAUTHENTICATED');
    expect(JSON.stringify(res.body)).not.toContain(token);
  }

  describe('GET /api/profiles/me with a Supabase access token', () => {
    it('should accept a valid ES256 token and create the profile on first sight from user_metadata', async () => {
      const tag = hex(3);
      const sub = randomUUID();
      const token = await auth.mintToken({
        sub,
        email: `someone.${tag}@example.test`,
        userMetadata: { username: `Ada.Lovelace_${tag}`, full_name: 'Ada Lovelace' },
      });

      const res = await client(token).get('/api/profiles/me');

      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(res.body).toEqual({
        id: sub,
        username: expect.stringMatching(USERNAME),
        displayName: 'Ada Lovelace',
        avatarUrl: null,
        createdAt: expect.stringMatching(ISO_UTC),
      });
      expect(res.body.username).toBe(`ada_lovelace_${tag}`);
    });

    it('should derive the username from the email when the metadata has none, and the display name too', async () => {
      const tag = hex(3);
      const { profile } = await signedIn({ email: `Grace.Hopper+${tag}@example.test` });
      expect(profile.username).toMatch(USERNAME);
      expect(profile.username).toBe(`grace_hopper_${tag}`);
      expect(profile.displayName).toEqual(expect.any(String));
      expect(profile.displayName.length).toBeGreaterThan(0);
    });

    it('should give the same profile to the same token twice, without fetching the keys again', async () => {
      const token = await auth.mintToken({ email: `twice.${hex()}@example.test` });
      const first = await client(token).get('/api/profiles/me');
      const fetched = auth.jwksRequests;
      const second = await client(token).get('/api/profiles/me');
      const third = await client(await auth.mintToken({ sub: first.body.id })).get('/api/profiles/me');

      expect(first.status).toBe(200);
      expect(second).toMatchObject({ status: 200, body: first.body });
      expect(third).toMatchObject({ status: 200, body: first.body });
      expect(auth.jwksRequests).toBe(fetched);
    });

    it('should give two users whose emails share a local part different usernames', async () => {
      const local = `sam_${hex(3)}`;
      const a = await signedIn({ email: `${local}@one.example` });
      const b = await signedIn({ email: `${local}@two.example` });
      const c = await signedIn({ userMetadata: { username: local } });

      const names = [a.profile.username, b.profile.username, c.profile.username];
      expect(new Set(names).size).toBe(3);
      for (const name of names) {
        expect(name).toMatch(USERNAME);
        expect(name.startsWith(local)).toBe(true);
      }
      expect(names[0]).toBe(local);
    });

    it('should create the profile once when the first requests of a user arrive together', async () => {
      const token = await auth.mintToken({ email: `racer.${hex()}@example.test` });
      const results = await Promise.all(Array.from({ length: 8 }, () => client(token).get('/api/profiles/me')));
      expect(results.map((r) => r.status)).toEqual(Array(8).fill(200));
      expect(new Set(results.map((r) => JSON.stringify(r.body))).size).toBe(1);
    });

    it.each<[string, MintOptions]>([
      ['markup', { userMetadata: { username: '<script>alert(1)</script>' } }],
      ['SQL', { userMetadata: { username: "x'); drop table public.profiles; --" } }],
      ['wildcards', { userMetadata: { username: '%_%' } }],
      ['unicode only', { userMetadata: { username: 'ünïcödé 😀' }, email: '' }],
      ['too long', { userMetadata: { username: 'a'.repeat(300) } }],
      ['a number', { userMetadata: { username: 42 } }],
      ['an object', { userMetadata: { username: { $ne: null } } }],
      ['an array', { userMetadata: { username: ['a', 'b'] } }],
      ['null, with no email', { userMetadata: { username: null }, email: '' }],
      ['absent, with no email', { email: '' }],
    ])('should make a valid username from a username hint that is %s', async (_label, mint) => {
      const { profile } = await signedIn(mint);
      expect(profile.username).toMatch(USERNAME);
      expect(profile.displayName).toEqual(expect.any(String));
      expect(profile.displayName.length).toBeGreaterThanOrEqual(1);
      expect(profile.displayName.length).toBeLessThanOrEqual(64);
    });

    it('should keep a hostile full name verbatim as the display name', async () => {
      const fullName = `<img src=x onerror=alert(1)> '; -- ${hex(2)}`;
      const { profile } = await signedIn({ userMetadata: { full_name: fullName } });
      expect(profile.displayName).toBe(fullName);
    });

    it("should run the app's database calls as the caller, with the caller's own token", async () => {
      const from = standIn.calls.length;
      const user = await signedIn();
      const created = await user.http.post('/api/rooms', { name: `room ${hex()}` });
      expect(created.status).toBe(201);

      const calls = standIn.calls.slice(from).filter((c) => c.sub === user.id || c.fn === 'create_room');
      expect(calls.length).toBeGreaterThanOrEqual(2);
      for (const call of calls) {
        expect(call).toMatchObject({ role: 'authenticated', sub: user.id, status: expect.any(Number) });
        expect(call.status).toBeLessThan(300);
      }
      expect(calls.map((c) => c.fn)).toContain('create_room');
    });
  });

  describe('refused tokens (JWKS only)', () => {
    const refused: [string, () => Promise<{ sub: string; token: string }>][] = [
      ['of another issuer', () => mint({ issuer: 'https://other-project.supabase.co/auth/v1' })],
      ['of the issuer with a trailing slash', () => mint({ issuer: `${auth.issuer}/` })],
      ['for another audience', () => mint({ audience: 'anon' })],
      ['expired', () => mint({ expiresInSeconds: -60 })],
      ['without exp', () => mint({ claims: { exp: undefined } })],
      ['signed with a key the JWKS does not list (unknown kid)', () => mint({ kid: `unlisted-${hex()}` })],
      [
        'signed with an unlisted key under a listed kid',
        async () => {
          const sub = randomUUID();
          const stranger = await startSupabaseAuth({ issuerBase: standIn.url });
          try {
            const token = await stranger.mintToken({ sub });
            const [, payload, signature] = token.split('.');
            const header = Buffer.from(JSON.stringify({ alg: 'ES256', kid: auth.currentKid, typ: 'JWT' })).toString(
              'base64url',
            );
            return { sub, token: `${header}.${payload}.${signature}` };
          } finally {
            await stranger.close();
          }
        },
      ],
      ['with a tampered signature', async () => withToken(await mint({}), tamperedToken)],
      [
        'with a tampered payload',
        async () => {
          const { sub, token } = await mint({});
          const [header, , signature] = token.split('.');
          const payload = Buffer.from(JSON.stringify(supabaseClaims(auth.issuer, { sub }))).toString('base64url');
          return { sub, token: `${header}.${payload}.${signature}` };
        },
      ],
      [
        'with alg none',
        () => {
          const sub = randomUUID();
          return Promise.resolve({ sub, token: unsignedToken(supabaseClaims(auth.issuer, { sub })) });
        },
      ],
      [
        'signed HS256 with some secret when only the JWKS is configured',
        async () => {
          const sub = randomUUID();
          return { sub, token: await signHs256(newJwtSecret(), supabaseClaims(auth.issuer, { sub })) };
        },
      ],
      [
        "signed HS256 with the project's own JWT secret when the app is not given it",
        async () => {
          const sub = randomUUID();
          return { sub, token: await signHs256(jwtSecret, supabaseClaims(auth.issuer, { sub })) };
        },
      ],
      [
        'signed HS256 with the public key as the secret (algorithm confusion)',
        async () => {
          const sub = randomUUID();
          const publicJwk = auth.jwks().keys.find((k) => k.kid === auth.currentKid);
          const token = await signHs256(JSON.stringify(publicJwk), supabaseClaims(auth.issuer, { sub }), {
            kid: auth.currentKid,
          });
          return { sub, token };
        },
      ],
      [
        'whose sub is not a UUID',
        async () => ({ sub: 'not-a-uuid', token: await auth.mintToken({ sub: 'not-a-uuid' }) }),
      ],
      ['that is not a JWT at all', () => Promise.resolve({ sub: randomUUID(), token: 'not.a.jwt' })],
    ];

    async function mint(options: MintOptions): Promise<{ sub: string; token: string }> {
      const sub = randomUUID();
      return { sub, token: await auth.mintToken({ ...options, sub }) };
    }

    function withToken(minted: { sub: string; token: string }, change: (token: string) => string) {
      return { sub: minted.sub, token: change(minted.token) };
    }

    it.each(refused)('should answer a token %s with 401 and create no profile', async (_label, make) => {
      const { sub, token } = await make();
      expectUnauthenticated(await client(token).get('/api/profiles/me'), token);
      expectUnauthenticated(await client(token).post('/api/rooms', { name: 'never' }), token);
      if (/^[0-9a-f-]{36}$/.test(sub)) {
        expect(await profileStatus(sub)).toBe(404);
      }
    });

    it.each(['service_role', 'postgres', 'anon'])(
      'should never run the calls of a validly signed token whose role claim is %s as anything but authenticated',
      async (role) => {
        const from = standIn.calls.length;
        const sub = randomUUID();
        const token = await auth.mintToken({ sub, email: `role.${hex()}@example.test`, claims: { role } });

        const res = await client(token).get('/api/profiles/me');

        expect([200, 401]).toContain(res.status);
        const ranAs = standIn.calls
          .slice(from)
          .filter((c) => c.sub === sub)
          .map((c) => c.role);
        expect(ranAs.filter((r) => r !== 'authenticated')).toEqual([]);
      },
    );

    it('should answer a missing or malformed Authorization header with 401', async () => {
      const token = await auth.mintToken();
      const variants: Record<string, string>[] = [
        {},
        { authorization: token },
        { authorization: `Basic ${token}` },
        { authorization: 'Bearer' },
      ];
      for (const headers of variants) {
        expectProblem(await client().get('/api/profiles/me', headers), 401, 'UNAUTHENTICATED');
      }
    });
  });

  describe('key rotation', () => {
    it('should accept a token of a new kid after rotation without a restart, and still the old kid', async () => {
      const before = await signedIn();
      expect(auth.lastJwksRequestAt).toEqual(expect.any(Number));

      const newKid = await auth.rotate();
      // The one inherent wait of this suite: jose refetches the JWKS on an unknown kid at most once per
      // cooldown (JWKS_COOLDOWN_MS after its last fetch). Inside it, a new kid is refused; wait it out.
      const sinceLastFetch = performance.now() - auth.lastJwksRequestAt!;
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, JWKS_COOLDOWN_MS + 100 - sinceLastFetch)));
      const fetched = auth.jwksRequests;

      const rotatedToken = await auth.mintToken({ email: `rotated.${hex()}@example.test` });
      expect(JSON.parse(Buffer.from(rotatedToken.split('.')[0], 'base64url').toString()).kid).toBe(newKid);
      const me = await client(rotatedToken).get('/api/profiles/me');
      expect(me.status).toBe(200);
      expect(auth.jwksRequests).toBe(fetched + 1);

      const old = await client(before.token).get('/api/profiles/me');
      expect(old).toMatchObject({ status: 200, body: before.profile });
      expect(auth.jwksRequests).toBe(fetched + 1);
    });
  });

  describe('the legacy JWT secret (SUPABASE_JWT_SECRET, HS256)', () => {
    const legacyToken = (options: MintOptions = {}, secret = jwtSecret) => {
      const sub = options.sub ?? randomUUID();
      return signHs256(secret, supabaseClaims(auth.issuer, { email: `legacy.${hex()}@example.test`, ...options, sub }));
    };

    it('should accept an HS256 token signed with the secret, create the profile and act as it', async () => {
      const tag = hex(3);
      const sub = randomUUID();
      const token = await legacyToken({ sub, userMetadata: { username: `legacy_${tag}`, full_name: 'Legacy User' } });

      const me = await client(token, legacy).get('/api/profiles/me');
      expect(me.status).toBe(200);
      expect(me.body).toMatchObject({ id: sub, username: `legacy_${tag}`, displayName: 'Legacy User' });

      const room = await client(token, legacy).post('/api/rooms', { name: `legacy ${tag}` });
      expect(room.status).toBe(201);
      expect(room.body).toMatchObject({ ownerId: sub, myRole: 'owner' });
    });

    it.each<[string, () => Promise<string>]>([
      ['signed with another secret', () => legacyToken({}, newJwtSecret())],
      ['expired', () => legacyToken({ expiresInSeconds: -60 })],
      ['of another issuer', () => legacyToken({ issuer: 'https://other-project.supabase.co/auth/v1' })],
      ['for another audience', () => legacyToken({ audience: 'anon' })],
      ['with a tampered signature', async () => tamperedToken(await legacyToken())],
      ['with alg none', () => Promise.resolve(unsignedToken(supabaseClaims(auth.issuer, { sub: randomUUID() })))],
      ['that is the anon key', () => Promise.resolve(standIn.anonKey)],
      ['that is the service role key', () => Promise.resolve(standIn.serviceRoleKey)],
    ])('should answer a token %s with 401 and create no profile', async (_label, make) => {
      const token = await make();
      expectUnauthenticated(await client(token, legacy).get('/api/profiles/me'), token);
      const sub = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()).sub as string | undefined;
      if (sub) {
        expect(await profileStatus(sub)).toBe(404);
      }
    });
  });

  describe('POST /api/auth/register, login, refresh and logout', () => {
    it('should answer 404 to a valid register and login in Supabase mode, and create no account', async () => {
      const username = `local_${hex()}`;
      const password = `pw-${hex(8)}`;
      expectProblem(await client().post('/api/auth/register', { username, password }), 404, 'NOT_FOUND');
      expectProblem(await client().post('/api/auth/login', { username, password }), 404, 'NOT_FOUND');
      // Supabase Auth refreshes its own sessions: this server's refresh tokens do not exist in this mode.
      const refreshToken = randomBytes(32).toString('base64url');
      expectProblem(await client().post('/api/auth/refresh', { refreshToken }), 404, 'NOT_FOUND');
      expectProblem(await client().post('/api/auth/logout', { refreshToken }), 404, 'NOT_FOUND');

      // No profile of that name exists: a room owner cannot add it.
      const owner = await signedIn();
      const room = await owner.http.post('/api/rooms', { name: `room ${hex()}` });
      expect(room.status).toBe(201);
      expectProblem(await owner.http.post(`/api/rooms/${room.body.id}/members`, { username }), 404, 'NOT_FOUND');
    });

    it.each<[string, unknown]>([
      ['an empty object', {}],
      ['malformed JSON', '{"username": '],
      ['an array', [1, 2]],
      ['null', 'null'],
    ])('should answer a body that is %s exactly like a route that does not exist', async (_label, body) => {
      const missing = await client().post('/api/auth/no-such-route', body);
      expect(missing.status).toBeGreaterThanOrEqual(400);
      for (const path of ['/api/auth/register', '/api/auth/login', '/api/auth/refresh', '/api/auth/logout']) {
        const res = await client().post(path, body);
        expect({ path, status: res.status, code: res.body?.code }).toEqual({
          path,
          status: missing.status,
          code: missing.body.code,
        });
      }
    });

    it('should answer 404 to a signed-in caller too', async () => {
      const user = await signedIn();
      const body = { username: `local_${hex()}`, password: `pw-${hex(8)}` };
      expectProblem(await user.http.post('/api/auth/register', body), 404, 'NOT_FOUND');
      expectProblem(await user.http.post('/api/auth/login', body), 404, 'NOT_FOUND');
      expectProblem(await user.http.post('/api/auth/refresh', { refreshToken: hex(16) }), 404, 'NOT_FOUND');
    });
  });

  describe('Socket.IO handshake with Supabase tokens', () => {
    it('should connect with a valid token, as that user', async () => {
      const user = await signedIn();
      const room = await user.http.post('/api/rooms', { name: `socket ${hex()}` });
      expect(room.status).toBe(201);

      const socket = await connectSocket(t.url, user.token);
      sockets.push(socket);
      const joined = await ack(socket, 'room:join', { roomId: room.body.id });
      expect(joined).toMatchObject({ ok: true, room: { id: room.body.id, ownerId: user.id, myRole: 'owner' } });
    });

    it('should connect a user seen for the first time over the socket, creating the profile', async () => {
      const sub = randomUUID();
      const token = await auth.mintToken({ sub, email: `socket.${hex()}@example.test` });
      const socket = await connectSocket(t.url, token);
      sockets.push(socket);
      expect(socket.connected).toBe(true);
      // Nothing but the handshake has used this token: the profile another user now sees was made by it.
      expect(await profileStatus(sub)).toBe(200);
    });

    it.each<[string, () => Promise<string>]>([
      ['expired', () => auth.mintToken({ expiresInSeconds: -60 })],
      ['of another issuer', () => auth.mintToken({ issuer: 'https://other-project.supabase.co/auth/v1' })],
      ['for another audience', () => auth.mintToken({ audience: 'anon' })],
      ['with an unknown kid', () => auth.mintToken({ kid: `unlisted-${hex()}` })],
      ['with a tampered signature', async () => tamperedToken(await auth.mintToken())],
      ['with alg none', () => Promise.resolve(unsignedToken(supabaseClaims(auth.issuer, { sub: randomUUID() })))],
      ['signed HS256 with some secret', () => signHs256(newJwtSecret(), supabaseClaims(auth.issuer))],
    ])('should refuse a token %s with UNAUTHENTICATED', async (_label, make) => {
      const token = await make();
      const error = await refusedConnection(t.url, { token });
      expect(error.message).toBe('UNAUTHENTICATED');
      expect(error.data).toEqual({ code: 'UNAUTHENTICATED', message: expect.any(String) });
      expect(JSON.stringify(error.data)).not.toContain(token);
    });
  });

  describe('auth:refresh with Supabase tokens (a client swaps its ~1 h token in place)', () => {
    /** A socket of a fresh Supabase user connected with a token living `seconds`, joined to a room the user owns. */
    async function connectedFor(seconds: number) {
      const user = await signedIn();
      const room = await user.http.post('/api/rooms', { name: `refresh ${hex()}` });
      expect(room.status).toBe(201);
      const token = await auth.mintToken({ sub: user.id, expiresInSeconds: seconds });
      const socket = await connectSocket(t.url, token);
      sockets.push(socket);
      expect(await ack(socket, 'room:join', { roomId: room.body.id })).toMatchObject({ ok: true });
      return { user, roomId: room.body.id as string, socket };
    }

    it('should take a new token of the same user and use it from then on, past the old one’s expiry', async () => {
      const { user, roomId, socket } = await connectedFor(3);
      const fresh = await auth.mintToken({ sub: user.id, expiresInSeconds: 3600 });
      const exp = JSON.parse(Buffer.from(fresh.split('.')[1], 'base64url').toString()).exp as number;

      const res = await ack(socket, 'auth:refresh', { token: fresh });

      expect(res).toEqual({ ok: true, expiresAt: new Date(exp * 1000).toISOString() });
      // The one inherent wait: past the old token's expiry. Its database calls carry the new token (PostgREST
      // would refuse the old one now), and nothing ended the socket.
      await new Promise((resolve) => setTimeout(resolve, 3500));
      expect(socket.connected).toBe(true);
      const joined = await ack(socket, 'room:join', { roomId });
      expect(joined).toMatchObject({ ok: true, room: { id: roomId, myRole: 'owner' } });
      const sent = await ack(socket, 'message:send', { roomId, content: 'after the swap', clientId: `c-${hex()}` });
      expect(sent).toMatchObject({ ok: true, message: { senderId: user.id, content: 'after the swap' } });
    }, 20_000);

    it('should refuse another Supabase user’s token with FORBIDDEN and disconnect', async () => {
      const { socket } = await connectedFor(3600);
      const gone = new Promise<string>((resolve) => socket.once('disconnect', resolve));

      const res = await ack(socket, 'auth:refresh', { token: await auth.mintToken({ sub: randomUUID() }) });

      expect(res).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
      expect(await gone).toBe('io server disconnect');
    });

    it.each<[string, (sub: string) => Promise<string>]>([
      ['expired', (sub) => auth.mintToken({ sub, expiresInSeconds: -60 })],
      ['of another issuer', (sub) => auth.mintToken({ sub, issuer: 'https://other-project.supabase.co/auth/v1' })],
      ['with a tampered signature', async (sub) => tamperedToken(await auth.mintToken({ sub }))],
      ['with alg none', (sub) => Promise.resolve(unsignedToken(supabaseClaims(auth.issuer, { sub })))],
      ['with the service role', (sub) => auth.mintToken({ sub, claims: { role: 'service_role' } })],
      ['that is the service role key', () => Promise.resolve(standIn.serviceRoleKey)],
    ])('should refuse a token of the same user %s with UNAUTHENTICATED and keep the socket', async (_label, make) => {
      const { user, roomId, socket } = await connectedFor(3600);
      const token = await make(user.id);

      const res = await ack(socket, 'auth:refresh', { token });

      expect(res).toMatchObject({ ok: false, error: { code: 'UNAUTHENTICATED' } });
      expect(JSON.stringify(res)).not.toContain(token);
      expect(socket.connected).toBe(true);
      expect(await ack(socket, 'room:join', { roomId })).toMatchObject({ ok: true });
    });
  });
});
