import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import { decodeJwt } from 'jose';
import {
  base64UrlJson,
  decodeSegment,
  localClaims,
  LOCAL_AUDIENCE,
  LOCAL_ISSUER,
  newPassword,
  signToken,
} from './support/auth-helpers';
import { expectProblem, HttpClient, signUp, uniqueUsername, type HttpResult } from './support/http-client';
import { useTestApp } from './support/test-app';
import { UUID } from './support/chat-api';

/** A string shaped like a refresh token (43 characters of base64url) that the server never issued. */
const newRefreshTokenLike = (): string => randomBytes(32).toString('base64url');

describe('auth (local mode)', () => {
  const t = useTestApp();
  let anon: HttpClient;

  beforeAll(() => {
    anon = new HttpClient(t.url);
  });

  const register = (body: unknown): Promise<HttpResult> => anon.post('/api/auth/register', body);
  const login = (body: unknown): Promise<HttpResult> => anon.post('/api/auth/login', body);

  /** Asserts a session body of PROTOCOL §1 and returns it. */
  function expectSession(res: HttpResult, status: number, username: string, displayName: string): any {
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(Object.keys(res.body).sort()).toEqual([
      'accessToken',
      'expiresIn',
      'profile',
      'refreshExpiresIn',
      'refreshToken',
      'tokenType',
    ]);
    expect(res.body).toEqual({
      accessToken: expect.stringMatching(/^[\w-]+\.[\w-]+\.[\w-]+$/),
      tokenType: 'Bearer',
      expiresIn: t.config.auth.localJwtTtlSeconds,
      refreshToken: expect.stringMatching(/^[\w-]{43}$/),
      refreshExpiresIn: t.config.auth.localRefreshTtlSeconds,
      profile: {
        id: expect.stringMatching(UUID),
        username,
        displayName,
        avatarUrl: null,
        createdAt: expect.any(String),
      },
    });
    expect(new Date(res.body.profile.createdAt).toISOString()).toBe(res.body.profile.createdAt);
    return res.body;
  }

  /** No account signs in with this pair (login takes 1–256 characters each, so only such pairs can be asked). */
  async function expectNoAccount(username: string, password: string): Promise<void> {
    expect(username.length >= 1 && username.length <= 256 && password.length >= 1 && password.length <= 256).toBe(true);
    expectProblem(await login({ username, password }), 401, 'UNAUTHENTICATED');
  }

  describe('POST /api/auth/register', () => {
    it('should create the account and answer 201 with a session whose displayName defaults to the username', async () => {
      const username = uniqueUsername('reg');
      const res = await register({ username, password: newPassword() });

      const session = expectSession(res, 201, username, username);
      const me = await anon.as(session.accessToken).get('/api/profiles/me');
      expect(me.status).toBe(200);
      expect(me.body).toEqual(session.profile);
    });

    it('should issue a token for the new profile that lives expiresIn seconds', async () => {
      const username = uniqueUsername('ttl');
      const before = Math.floor(Date.now() / 1000);
      const res = await register({ username, password: newPassword() });
      const after = Math.ceil(Date.now() / 1000);

      const session = expectSession(res, 201, username, username);
      const claims = decodeJwt(session.accessToken);
      expect(claims.sub).toBe(session.profile.id);
      expect(claims.exp).toBeGreaterThanOrEqual(before + session.expiresIn);
      expect(claims.exp).toBeLessThanOrEqual(after + session.expiresIn);
      expect(decodeSegment(session.accessToken.split('.')[0])).toMatchObject({ alg: 'HS256' });
    });

    it('should keep the displayName given, unicode and markup included, as plain text', async () => {
      for (const displayName of [
        'Ada Lovelace',
        'Zoë 🚀 李',
        '<script>alert(1)</script>',
        "x'; drop table profiles;--",
      ]) {
        const username = uniqueUsername('dn');
        const session = expectSession(
          await register({ username, password: newPassword(), displayName }),
          201,
          username,
          displayName,
        );
        expect((await anon.as(session.accessToken).get('/api/profiles/me')).body.displayName).toBe(displayName);
      }
    });

    it('should accept usernames of 3 and 32 characters of a-z 0-9 _', async () => {
      const short = `${'abcdefghijklmnopqrstuvwxyz'[randomInt(26)]}_${randomInt(10)}`;
      const long = `z9_${randomBytes(16).toString('hex')}`.slice(0, 32);
      expect(long).toHaveLength(32);
      for (const username of [short, long]) {
        const password = newPassword();
        expectSession(await register({ username, password }), 201, username, username);
        expectSession(await login({ username, password }), 200, username, username);
      }
    });

    it('should accept passwords of 8 and 256 characters, and unicode ones', async () => {
      for (const password of ['12345678', 'p'.repeat(256), 'pässwörd-🔑-密码']) {
        const username = uniqueUsername('pw');
        expectSession(await register({ username, password }), 201, username, username);
        expectSession(await login({ username, password }), 200, username, username);
      }
    });

    it('should accept a displayName of 64 characters', async () => {
      const username = uniqueUsername('dn64');
      const displayName = 'd'.repeat(64);
      expectSession(await register({ username, password: newPassword(), displayName }), 201, username, displayName);
    });

    it('should ignore fields it does not know (a client cannot choose its id)', async () => {
      const username = uniqueUsername('extra');
      const id = randomUUID();
      const res = await register({ username, password: newPassword(), id, role: 'service_role', avatarUrl: 'x' });

      const session = expectSession(res, 201, username, username);
      expect(session.profile.id).not.toBe(id);
      expect(decodeJwt(session.accessToken).role).not.toBe('service_role');
    });

    it('should answer 409 CONFLICT for a taken username and leave the first account as it was', async () => {
      const username = uniqueUsername('taken');
      const password = newPassword();
      const first = expectSession(await register({ username, password, displayName: 'First' }), 201, username, 'First');
      const otherPassword = newPassword();

      const problem = expectProblem(
        await register({ username, password: otherPassword, displayName: 'Second' }),
        409,
        'CONFLICT',
      );

      expect(problem.detail).not.toContain(otherPassword);
      const again = expectSession(await login({ username, password }), 200, username, 'First');
      expect(again.profile).toEqual(first.profile);
      await expectNoAccount(username, otherPassword);
    });

    const invalidUsernames: [string, unknown][] = [
      ['too short (2)', 'ab'],
      ['too long (33)', `a${'b'.repeat(32)}`],
      ['uppercase', 'Ada_Lovelace'],
      ['with a space inside', 'ada lovelace'],
      ['with a leading space', ' adalovelace'],
      ['with a hyphen', 'ada-lovelace'],
      ['non-ASCII', 'zoë_user'],
      ['SQL-ish', "a' or '1'='1"],
      ['markup', '<script>x</script>'],
      ['with % and _ wildcards', 'a%b_c'],
      ['empty', ''],
      ['a number', 123456789],
      ['null', null],
      ['an array', ['ada_lovelace']],
      ['an object', { name: 'ada_lovelace' }],
      ['a boolean', true],
    ];

    it.each(invalidUsernames)(
      'should answer 400 VALIDATION_FAILED for a username %s and store nothing',
      async (_, username) => {
        const password = newPassword();

        const problem = expectProblem(await register({ username, password }), 400, 'VALIDATION_FAILED');

        expect(problem.details).toEqual(expect.arrayContaining([{ field: 'username', message: expect.any(String) }]));
        expect(problem.details.every((d: { field: string }) => d.field === 'username')).toBe(true);
        if ((typeof username === 'string' && username.length > 0) || typeof username === 'number') {
          await expectNoAccount(String(username), password);
        }
      },
    );

    it('should answer 400 VALIDATION_FAILED for a missing username', async () => {
      const problem = expectProblem(await register({ password: newPassword() }), 400, 'VALIDATION_FAILED');
      expect(problem.details.map((d: { field: string }) => d.field)).toContain('username');
    });

    const invalidPasswords: [string, unknown][] = [
      ['of 7 characters', '1234567'],
      ['of 257 characters', 'p'.repeat(257)],
      ['empty', ''],
      ['a number', 12345678],
      ['null', null],
      ['an array', ['12345678']],
      ['an object', { value: '12345678' }],
      ['with a NUL character', 'pass\u0000word'],
      ['missing', undefined],
    ];

    it.each(invalidPasswords)(
      'should answer 400 VALIDATION_FAILED for a password %s and store nothing (the username stays free)',
      async (_, password) => {
        const username = uniqueUsername('badpw');

        const problem = expectProblem(await register({ username, password }), 400, 'VALIDATION_FAILED');

        expect(problem.details).toEqual(expect.arrayContaining([{ field: 'password', message: expect.any(String) }]));
        expect(problem.details.every((d: { field: string }) => d.field === 'password')).toBe(true);
        expect(JSON.stringify(problem)).not.toMatch(/p{257}/);
        const askable = typeof password === 'string' && password.length >= 1 && password.length <= 256;
        if (askable && !password.includes('\u0000')) {
          await expectNoAccount(username, password);
        }
        expectSession(await register({ username, password: newPassword() }), 201, username, username);
      },
    );

    const invalidDisplayNames: [string, unknown][] = [
      ['blank', '   '],
      ['empty', ''],
      ['of 65 characters', 'd'.repeat(65)],
      ['a number', 42],
      ['an array', ['Ada']],
      ['an object', { first: 'Ada' }],
      ['a boolean', false],
      ['null', null],
      ['with a NUL character', 'Ada\u0000Lovelace'],
    ];

    it.each(invalidDisplayNames)(
      'should answer 400 VALIDATION_FAILED for a displayName %s and store nothing',
      async (_, displayName) => {
        const username = uniqueUsername('baddn');
        const password = newPassword();

        const problem = expectProblem(await register({ username, password, displayName }), 400, 'VALIDATION_FAILED');

        expect(problem.details).toEqual(
          expect.arrayContaining([{ field: 'displayName', message: expect.any(String) }]),
        );
        expect(problem.details.every((d: { field: string }) => d.field === 'displayName')).toBe(true);
        await expectNoAccount(username, password);
        expectSession(await register({ username, password }), 201, username, username);
      },
    );

    it('should list every invalid field at once', async () => {
      const problem = expectProblem(
        await register({ username: 'A', password: 'short', displayName: 7 }),
        400,
        'VALIDATION_FAILED',
      );
      expect([...new Set(problem.details.map((d: { field: string }) => d.field))].sort()).toEqual([
        'displayName',
        'password',
        'username',
      ]);
    });

    it('should answer 400 VALIDATION_FAILED for a request without a body', async () => {
      const problem = expectProblem(await register(undefined), 400, 'VALIDATION_FAILED');
      expect(problem.details.map((d: { field: string }) => d.field)).toEqual(
        expect.arrayContaining(['username', 'password']),
      );
    });

    it.each([
      ['an empty object', {}],
      ['a JSON array', '[]'],
      ['JSON null', 'null'],
      ['a JSON string', '"ada"'],
      ['a JSON number', '42'],
    ])('should answer 400 VALIDATION_FAILED for a body that is %s', async (_, body) => {
      expectProblem(await register(body), 400, 'VALIDATION_FAILED');
    });

    it('should store nothing when a register fails, so a later register of that username succeeds', async () => {
      const username = uniqueUsername('retry');
      expectProblem(await register({ username, password: 'short' }), 400, 'VALIDATION_FAILED');
      expectProblem(await register({ username, password: 'x'.repeat(300) }), 400, 'VALIDATION_FAILED');

      const password = newPassword();
      const session = expectSession(await register({ username, password }), 201, username, username);
      expectSession(await login({ username, password }), 200, username, username);
      expect((await anon.as(session.accessToken).get('/api/profiles/me')).status).toBe(200);
    });
  });

  describe('POST /api/auth/login', () => {
    it('should answer 200 with the same session body as register, for the same profile', async () => {
      const username = uniqueUsername('login');
      const password = newPassword();
      const registered = expectSession(
        await register({ username, password, displayName: 'Grace' }),
        201,
        username,
        'Grace',
      );

      const session = expectSession(await login({ username, password }), 200, username, 'Grace');

      expect(session.profile).toEqual(registered.profile);
      const me = await anon.as(session.accessToken).get('/api/profiles/me');
      expect(me.status).toBe(200);
      expect(me.body).toEqual(registered.profile);
    });

    it('should answer the same 401 UNAUTHENTICATED for a wrong password and for an unknown user', async () => {
      const user = await signUp(t.url, 'known');

      const wrongPassword = expectProblem(
        await login({ username: user.username, password: `${user.password}x` }),
        401,
        'UNAUTHENTICATED',
      );
      const unknownUser = expectProblem(
        await login({ username: uniqueUsername('ghost'), password: user.password }),
        401,
        'UNAUTHENTICATED',
      );

      const shape = (p: any) => ({ ...p, requestId: undefined });
      expect(shape(unknownUser)).toEqual(shape(wrongPassword));
      expect(Object.keys(unknownUser).sort()).toEqual(Object.keys(wrongPassword).sort());
      expect(unknownUser.detail).toBe(wrongPassword.detail);
      expect(wrongPassword.detail).not.toContain(user.password);
      // The failed attempt changed nothing: the right pair still signs in.
      expect((await login({ username: user.username, password: user.password })).status).toBe(200);
    });

    it.each([
      ['the username in another case', (u: string, p: string) => ({ username: u.toUpperCase(), password: p })],
      ['the password in another case', (u: string, p: string) => ({ username: u, password: p.toUpperCase() })],
      ['an SQL-ish username', (_: string, p: string) => ({ username: "' or '1'='1", password: p })],
      ['an SQL-ish password', (u: string) => ({ username: u, password: "' or '1'='1" })],
      ['a username with a % wildcard', (u: string, p: string) => ({ username: `${u.slice(0, 4)}%`, password: p })],
      ['a username with _ wildcards', (u: string, p: string) => ({ username: u.replace(/./g, '_'), password: p })],
      ['a username with a trailing space', (u: string, p: string) => ({ username: `${u} `, password: p })],
    ])('should answer 401 UNAUTHENTICATED for %s', async (_, body) => {
      const user = await signUp(t.url, 'pair');

      expectProblem(await login(body(user.username, user.password)), 401, 'UNAUTHENTICATED');

      expect((await login({ username: user.username, password: user.password })).status).toBe(200);
    });

    it.each([
      ['no body', undefined, ['password', 'username']],
      ['no password', { username: 'someone' }, ['password']],
      ['no username', { password: 'whatever1' }, ['username']],
      ['a number as username', { username: 12345678, password: 'whatever1' }, ['username']],
      ['null as password', { username: 'someone', password: null }, ['password']],
      ['an array as password', { username: 'someone', password: ['whatever1'] }, ['password']],
      ['an object as username', { username: { $ne: null }, password: 'whatever1' }, ['username']],
    ])('should answer 400 VALIDATION_FAILED for %s', async (_, body, fields) => {
      const problem = expectProblem(await login(body), 400, 'VALIDATION_FAILED');
      expect([...new Set(problem.details.map((d: { field: string }) => d.field))].sort()).toEqual(fields);
    });
  });

  describe('sessions: POST /api/auth/refresh and /api/auth/logout', () => {
    const refresh = (body: unknown): Promise<HttpResult> => anon.post('/api/auth/refresh', body);
    const logout = (body: unknown): Promise<HttpResult> => anon.post('/api/auth/logout', body);

    /** A fresh account signed in: its register session and what signs it in again. */
    async function signedIn(prefix = 'ses'): Promise<{ username: string; password: string; session: any }> {
      const username = uniqueUsername(prefix);
      const password = newPassword();
      const session = expectSession(await register({ username, password }), 201, username, username);
      return { username, password, session };
    }

    /** The refresh token no longer gets a session: 401, and the token is not in the answer. */
    async function expectSpent(refreshToken: string): Promise<void> {
      const problem = expectProblem(await refresh({ refreshToken }), 401, 'UNAUTHENTICATED');
      expect(JSON.stringify(problem)).not.toContain(refreshToken);
    }

    it('should rotate: a new access token and refresh token for the same profile, each refresh token good once', async () => {
      const { username, session } = await signedIn();

      const second = expectSession(await refresh({ refreshToken: session.refreshToken }), 200, username, username);
      const third = expectSession(await refresh({ refreshToken: second.refreshToken }), 200, username, username);

      expect(second.profile).toEqual(session.profile);
      expect(third.profile).toEqual(session.profile);
      expect(new Set([session.refreshToken, second.refreshToken, third.refreshToken]).size).toBe(3);
      expect(decodeJwt(third.accessToken).sub).toBe(session.profile.id);
      const me = await anon.as(third.accessToken).get('/api/profiles/me');
      expect(me.status).toBe(200);
      expect(me.body).toEqual(session.profile);
    });

    it('should revoke the whole family when a spent refresh token is used again, and leave other sessions alone', async () => {
      const { username, password, session } = await signedIn();
      const other = expectSession(await login({ username, password }), 200, username, username);
      const second = expectSession(await refresh({ refreshToken: session.refreshToken }), 200, username, username);
      const third = expectSession(await refresh({ refreshToken: second.refreshToken }), 200, username, username);

      // The first token again: whoever holds it, one of the two holders is not the user.
      await expectSpent(session.refreshToken);

      await expectSpent(third.refreshToken);
      await expectSpent(second.refreshToken);
      // The login's own session is another family: untouched.
      expectSession(await refresh({ refreshToken: other.refreshToken }), 200, username, username);
    });

    it('should let only one of two refreshes of the same token win, and then revoke its family too', async () => {
      const { session } = await signedIn();

      const results = await Promise.all([
        refresh({ refreshToken: session.refreshToken }),
        refresh({ refreshToken: session.refreshToken }),
      ]);

      expect(results.map((r) => r.status).sort()).toEqual([200, 401]);
      const winner = results.find((r) => r.status === 200)!;
      await expectSpent(winner.body.refreshToken);
    });

    it.each<[string, (session: any) => string]>([
      ['a token it never issued', () => newRefreshTokenLike()],
      ['an SQL-ish string', () => "' or '1'='1"],
      ['a wildcard', () => '%'],
      ['256 characters', () => 'r'.repeat(256)],
      ['unicode', () => 'ünïcödé-🙂'],
    ])('should answer 401 UNAUTHENTICATED for %s, and leave the session alone', async (_label, make) => {
      const { session } = await signedIn();

      await expectSpent(make(session));

      expect((await refresh({ refreshToken: session.refreshToken })).status).toBe(200);
    });

    it('should answer a reused, a revoked and an unknown token alike', async () => {
      const reusedFamily = await signedIn();
      expect((await refresh({ refreshToken: reusedFamily.session.refreshToken })).status).toBe(200);
      const loggedOut = await signedIn();
      expect((await logout({ refreshToken: loggedOut.session.refreshToken })).status).toBe(204);
      const tokens = [reusedFamily.session.refreshToken, loggedOut.session.refreshToken, newRefreshTokenLike()];

      const answers = [];
      for (const refreshToken of tokens) {
        const { requestId: _requestId, ...problem } = expectProblem(
          await refresh({ refreshToken }),
          401,
          'UNAUTHENTICATED',
        );
        answers.push(problem);
      }

      expect(answers[1]).toEqual(answers[0]);
      expect(answers[2]).toEqual(answers[0]);
    });

    const invalidRefreshBodies: [string, unknown][] = [
      ['no body', undefined],
      ['an empty object', {}],
      ['a number', { refreshToken: 12345 }],
      ['null', { refreshToken: null }],
      ['a boolean', { refreshToken: true }],
      ['an array', { refreshToken: ['x'] }],
      ['an object', { refreshToken: { $ne: null } }],
      ['an empty string', { refreshToken: '' }],
      ['257 characters', { refreshToken: 'r'.repeat(257) }],
      ['a NUL character', { refreshToken: 'abc\u0000def' }],
    ];

    it.each(invalidRefreshBodies)(
      'should answer 400 VALIDATION_FAILED on refreshToken for %s, at refresh and at logout',
      async (_label, body) => {
        for (const send of [refresh, logout]) {
          const problem = expectProblem(await send(body), 400, 'VALIDATION_FAILED');
          expect([...new Set(problem.details.map((d: { field: string }) => d.field))]).toEqual(['refreshToken']);
        }
      },
    );

    it.each([
      ['a JSON array', '[]'],
      ['JSON null', 'null'],
      ['a JSON string', '"token"'],
      ['malformed JSON', '{"refreshToken": '],
    ])('should answer 400 VALIDATION_FAILED for a body that is %s', async (_label, body) => {
      expectProblem(await refresh(body), 400, 'VALIDATION_FAILED');
      expectProblem(await logout(body), 400, 'VALIDATION_FAILED');
    });

    it('should ignore fields it does not know (a client cannot choose the profile)', async () => {
      const { username, session } = await signedIn();
      const victim = await signedIn('victim');

      const res = await refresh({ refreshToken: session.refreshToken, profileId: victim.session.profile.id });

      expect(expectSession(res, 200, username, username).profile.id).toBe(session.profile.id);
    });

    it('should answer logout 204 and end the session: its token and every token of its family', async () => {
      const { username, password, session } = await signedIn();
      const other = expectSession(await login({ username, password }), 200, username, username);
      const second = expectSession(await refresh({ refreshToken: session.refreshToken }), 200, username, username);

      const res = await logout({ refreshToken: second.refreshToken });

      expect(res.status).toBe(204);
      expect(res.body).toBe('');
      await expectSpent(second.refreshToken);
      await expectSpent(session.refreshToken);
      expectSession(await refresh({ refreshToken: other.refreshToken }), 200, username, username);
    });

    it('should end the session when logout is sent a spent token of it', async () => {
      const { username, session } = await signedIn();
      const second = expectSession(await refresh({ refreshToken: session.refreshToken }), 200, username, username);

      expect((await logout({ refreshToken: session.refreshToken })).status).toBe(204);

      await expectSpent(second.refreshToken);
    });

    it('should answer 204 to a second logout and to a token it never issued', async () => {
      const { session } = await signedIn();
      expect((await logout({ refreshToken: session.refreshToken })).status).toBe(204);
      expect((await logout({ refreshToken: session.refreshToken })).status).toBe(204);
      expect((await logout({ refreshToken: newRefreshTokenLike() })).status).toBe(204);
      expect((await logout({ refreshToken: "' or '1'='1" })).status).toBe(204);
    });

    it.each([
      ['an Expo push token', 'ExponentPushToken[xxxxxxxxxxxxxxxxxxxxxx]'],
      ['an APNs token', 'a'.repeat(64)],
      ['an FCM token', `${'f'.repeat(22)}:APA91b${'F_-x'.repeat(35)}`],
      ['of 4096 characters', 'd'.repeat(4096)],
    ])('should take a deviceToken that is %s', async (_label, deviceToken) => {
      const { session } = await signedIn();

      expect((await logout({ refreshToken: session.refreshToken, deviceToken })).status).toBe(204);

      await expectSpent(session.refreshToken);
    });

    it.each<[string, unknown]>([
      ['a number', 42],
      ['null', null],
      ['a boolean', true],
      ['an array', ['ExponentPushToken[x]']],
      ['an object', { token: 'x' }],
      ['empty', ''],
      ['with a space', 'ExponentPushToken [x]'],
      ['with a newline', 'abc\ndef'],
      ['non-ASCII', 'tökén'],
      ['of 4097 characters', 'd'.repeat(4097)],
      ['markup', '<script>alert(1)</script> x'],
    ])(
      'should answer 400 VALIDATION_FAILED on deviceToken for one that is %s, and end no session',
      async (_label, deviceToken) => {
        const { username, session } = await signedIn();

        const problem = expectProblem(
          await logout({ refreshToken: session.refreshToken, deviceToken }),
          400,
          'VALIDATION_FAILED',
        );

        expect([...new Set(problem.details.map((d: { field: string }) => d.field))]).toEqual(['deviceToken']);
        expectSession(await refresh({ refreshToken: session.refreshToken }), 200, username, username);
      },
    );
  });

  describe('bearer tokens (GET /api/profiles/me)', () => {
    const me = (authorization?: string): Promise<HttpResult> =>
      anon.get('/api/profiles/me', authorization === undefined ? {} : { authorization });

    async function expectRefused(authorization: string | undefined, token?: string): Promise<void> {
      const problem = expectProblem(await me(authorization), 401, 'UNAUTHENTICATED');
      if (token) {
        expect(JSON.stringify(problem)).not.toContain(token);
      }
    }

    it('should accept a token the server issued, and one signed like it with its secret (control)', async () => {
      const user = await signUp(t.url, 'ctl');
      expect((await me(`Bearer ${user.token}`)).body.id).toBe(user.id);

      const token = await signToken(t.config.auth.localJwtSecret, localClaims(user.id));
      const res = await me(`Bearer ${token}`);

      expect(res.status).toBe(200);
      expect(res.body.id).toBe(user.id);
    });

    it('should answer 401 UNAUTHENTICATED without an Authorization header', async () => {
      await expectRefused(undefined);
    });

    it.each([
      ['an empty header', ''],
      ['"Bearer" with nothing', 'Bearer'],
      ['"Bearer" with spaces only', 'Bearer    '],
      ['garbage', 'Bearer garbage'],
      ['three dots of garbage', 'Bearer a.b.c'],
      ['a JSON object', 'Bearer {"sub":"x"}'],
      ['two tokens', 'Bearer a.b.c d.e.f'],
    ])('should answer 401 UNAUTHENTICATED for %s', async (_, authorization) => {
      await expectRefused(authorization);
    });

    it('should answer 401 UNAUTHENTICATED for the Basic scheme, even with a valid token', async () => {
      const user = await signUp(t.url, 'basic');
      await expectRefused(`Basic ${Buffer.from(`${user.username}:${user.password}`).toString('base64')}`);
      await expectRefused(`Basic ${user.token}`, user.token);
      await expectRefused(user.token, user.token);
    });

    it('should answer 401 UNAUTHENTICATED for a token with one character of its signature changed', async () => {
      const user = await signUp(t.url, 'sig');
      const [header, payload, signature] = user.token.split('.');
      const i = 10; // a middle character: every bit of it is part of the signature
      const changed = `${signature.slice(0, i)}${signature[i] === 'A' ? 'B' : 'A'}${signature.slice(i + 1)}`;

      await expectRefused(`Bearer ${header}.${payload}.${changed}`);
      await expectRefused(`Bearer ${header}.${payload}.`);
      await expectRefused(`Bearer ${header}.${payload}`);
      expect((await me(`Bearer ${user.token}`)).status).toBe(200);
    });

    it('should answer 401 UNAUTHENTICATED for a payload edited to another user with the old signature', async () => {
      const attacker = await signUp(t.url, 'mallory');
      const victim = await signUp(t.url, 'victim');
      const [header, payload, signature] = attacker.token.split('.');
      const forged = base64UrlJson({ ...decodeSegment(payload), sub: victim.id });

      await expectRefused(`Bearer ${header}.${forged}.${signature}`);
      const later = base64UrlJson({ ...decodeSegment(payload), exp: Math.floor(Date.now() / 1000) + 10 * 365 * 86400 });
      await expectRefused(`Bearer ${header}.${later}.${signature}`);
    });

    it('should answer 401 UNAUTHENTICATED for an unsigned token (alg: none)', async () => {
      const user = await signUp(t.url, 'none');
      const payload = base64UrlJson(localClaims(user.id));
      for (const alg of ['none', 'None', 'NONE']) {
        const header = base64UrlJson({ alg, typ: 'JWT' });
        await expectRefused(`Bearer ${header}.${payload}.`);
      }
      // Also with the original signature kept but the header switched to none.
      const [, realPayload, signature] = user.token.split('.');
      await expectRefused(`Bearer ${base64UrlJson({ alg: 'none', typ: 'JWT' })}.${realPayload}.${signature}`);
    });

    it('should answer 401 UNAUTHENTICATED for a token signed with another secret', async () => {
      const user = await signUp(t.url, 'other');
      const token = await signToken(randomBytes(32).toString('hex'), localClaims(user.id));
      await expectRefused(`Bearer ${token}`, token);
    });

    it('should answer 401 UNAUTHENTICATED for an expired token signed with the app secret', async () => {
      const user = await signUp(t.url, 'exp');
      const now = Math.floor(Date.now() / 1000);
      const token = await signToken(t.config.auth.localJwtSecret, {
        sub: user.id,
        role: 'authenticated',
        iss: LOCAL_ISSUER,
        aud: LOCAL_AUDIENCE,
        iat: now - 7200,
        exp: now - 3600,
      });

      await expectRefused(`Bearer ${token}`, token);
    });

    it('should answer 401 UNAUTHENTICATED for a token expired a few seconds ago', async () => {
      const user = await signUp(t.url, 'exp5');
      const token = await signToken(t.config.auth.localJwtSecret, localClaims(user.id, -5));
      await expectRefused(`Bearer ${token}`, token);
    });

    it.each([
      ['is not a UUID', 'not-a-uuid'],
      ['is an SQL-ish string', "' or '1'='1"],
      ['is a username', 'admin'],
      ['is empty', ''],
      ['is a UUID with extra characters', `${randomUUID()}x`],
    ])('should answer 401 UNAUTHENTICATED for a validly signed token whose sub %s', async (_, sub) => {
      const token = await signToken(t.config.auth.localJwtSecret, localClaims(sub));
      await expectRefused(`Bearer ${token}`, token);
    });

    it('should answer 401 UNAUTHENTICATED for a validly signed token without sub or without exp', async () => {
      const user = await signUp(t.url, 'claims');
      const { sub: _sub, ...withoutSub } = localClaims(user.id);
      const { exp: _exp, ...withoutExp } = localClaims(user.id);
      await expectRefused(`Bearer ${await signToken(t.config.auth.localJwtSecret, withoutSub)}`);
      await expectRefused(`Bearer ${await signToken(t.config.auth.localJwtSecret, withoutExp)}`);
    });

    it('should answer 401 UNAUTHENTICATED on every protected route without a token', async () => {
      const id = randomUUID();
      const routes: [string, string][] = [
        ['GET', '/api/profiles/me'],
        ['PATCH', '/api/profiles/me'],
        ['GET', `/api/profiles/${id}`],
        ['POST', '/api/rooms'],
        ['GET', '/api/rooms'],
        ['GET', '/api/rooms/public'],
        ['GET', `/api/rooms/${id}`],
        ['PATCH', `/api/rooms/${id}`],
        ['DELETE', `/api/rooms/${id}`],
        ['POST', `/api/rooms/${id}/join`],
        ['POST', `/api/rooms/${id}/leave`],
        ['GET', `/api/rooms/${id}/members`],
        ['POST', `/api/rooms/${id}/members`],
        ['DELETE', `/api/rooms/${id}/members/${randomUUID()}`],
        ['GET', `/api/rooms/${id}/messages`],
        ['POST', `/api/rooms/${id}/messages`],
      ];
      for (const [method, path] of routes) {
        const body = method === 'POST' || method === 'PATCH' ? {} : undefined;
        const res = await anon.request(method, path, body);
        expect({ method, path, status: res.status, code: res.body?.code }).toEqual({
          method,
          path,
          status: 401,
          code: 'UNAUTHENTICATED',
        });
        expectProblem(res, 401, 'UNAUTHENTICATED');
      }
    });

    it('should create no room for a POST /api/rooms with a bad token', async () => {
      const owner = await signUp(t.url, 'rooms');
      const forger = await signToken(randomBytes(32).toString('hex'), localClaims(owner.id));
      const name = `forged-${randomBytes(6).toString('hex')}`;

      expectProblem(await anon.as(forger).post('/api/rooms', { name, visibility: 'public' }), 401, 'UNAUTHENTICATED');

      const mine = await owner.http.get('/api/rooms');
      expect(mine.status).toBe(200);
      expect(mine.body.rooms).toEqual([]);
      const listed = await owner.http.get(`/api/rooms/public?q=${name}`);
      expect(listed.status).toBe(200);
      expect(listed.body.rooms).toEqual([]);
    });
  });
});
