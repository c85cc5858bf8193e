import { randomBytes, randomUUID } from 'node:crypto';
import { freshLoopbackAddress, newPassword, requestFrom, signUpFrom } from './support/auth-helpers';
import { expectProblem, HttpClient, signUp, uniqueUsername, type HttpResult } from './support/http-client';
import { useTestApp } from './support/test-app';
import { UUID } from './support/chat-api';

const BODY_LIMIT_BYTES = 64 * 1024;

/** Every route of PROTOCOL §3, in OpenAPI path form; all of them need a bearer token. */
const PROTECTED_OPERATIONS: [string, string][] = [
  ['/api/profiles/me', 'get'],
  ['/api/profiles/me', 'patch'],
  ['/api/profiles/{id}', 'get'],
  ['/api/rooms', 'post'],
  ['/api/rooms', 'get'],
  ['/api/rooms/public', 'get'],
  ['/api/rooms/{id}', 'get'],
  ['/api/rooms/{id}', 'patch'],
  ['/api/rooms/{id}', 'delete'],
  ['/api/rooms/{id}/join', 'post'],
  ['/api/rooms/{id}/leave', 'post'],
  ['/api/rooms/{id}/members', 'get'],
  ['/api/rooms/{id}/members', 'post'],
  ['/api/rooms/{id}/members/{profileId}', 'delete'],
  ['/api/rooms/{id}/messages', 'get'],
  ['/api/rooms/{id}/messages', 'post'],
];

/** The sign-in routes of PROTOCOL §1: documented too, without a token. */
const PUBLIC_OPERATIONS: [string, string][] = [
  ['/api/auth/register', 'post'],
  ['/api/auth/login', 'post'],
  ['/api/auth/refresh', 'post'],
  ['/api/auth/logout', 'post'],
];

function uniqueRoomName(prefix: string): string {
  return `${prefix}-${randomBytes(6).toString('hex')}`;
}

/** Asserts a Retry-After header of whole seconds ≥ 1 equal to ceil(retryAfterMs / 1000) of the problem body. */
function expectRetryAfter(res: HttpResult): void {
  const problem = expectProblem(res, 429, 'RATE_LIMITED');
  const header = res.headers.get('retry-after');
  expect(header).toMatch(/^[1-9]\d*$/);
  expect(problem.retryAfterMs).toEqual(expect.any(Number));
  expect(problem.retryAfterMs).toBeGreaterThan(0);
  expect(problem.retryAfterMs).toBeLessThanOrEqual(60_000);
  expect(Number(header)).toBe(Math.ceil(problem.retryAfterMs / 1000));
}

describe('HTTP basics', () => {
  const t = useTestApp();
  let anon: HttpClient;

  beforeAll(() => {
    anon = new HttpClient(t.url);
  });

  describe('x-request-id', () => {
    it('should be a new UUID on every response when the caller sends none, success and error alike', async () => {
      const user = await signUp(t.url, 'rid');
      const responses = [
        await anon.get('/health/live'),
        await user.http.get('/api/profiles/me'),
        await anon.get('/api/profiles/me'),
        await user.http.get(`/api/rooms/${randomUUID()}`),
        await user.http.post('/api/rooms', { name: 42 }),
      ];

      expect(responses.map((r) => r.status)).toEqual([200, 200, 401, 404, 400]);
      const ids = responses.map((r) => r.headers.get('x-request-id'));
      for (const id of ids) {
        expect(id).toMatch(UUID);
      }
      expect(new Set(ids).size).toBe(ids.length);
      for (const res of responses.slice(2)) {
        expect(res.body.requestId).toBe(res.headers.get('x-request-id'));
      }
    });

    it.each([
      ['the example of the brief', 'abc-123.x:y_z'],
      ['one character', 'a'],
      ['128 characters', 'A1._:-'.repeat(21) + 'ab'],
    ])('should echo a valid caller id (%s) on success and in the error body', async (_, id) => {
      expect(id).toMatch(/^[A-Za-z0-9._:-]{1,128}$/);
      const user = await signUp(t.url, 'echo');
      const headers = { 'x-request-id': id };

      const ok = await user.http.get('/api/profiles/me', headers);
      const live = await anon.get('/health/live', headers);
      const error = await anon.get('/api/profiles/me', headers);
      const notFound = await user.http.get(`/api/profiles/${randomUUID()}`, headers);

      expect([ok.status, live.status]).toEqual([200, 200]);
      expect(ok.headers.get('x-request-id')).toBe(id);
      expect(live.headers.get('x-request-id')).toBe(id);
      expect(expectProblem(error, 401, 'UNAUTHENTICATED').requestId).toBe(id);
      expect(expectProblem(notFound, 404, 'NOT_FOUND').requestId).toBe(id);
    });

    it.each([
      ['of 129 characters', 'a'.repeat(129)],
      ['with a space', 'abc def'],
      ['with <', 'abc<script>'],
      ['with a slash', 'a/b'],
      ['with quotes', '"abc"'],
      ['with a semicolon', 'a;b=c'],
      ['empty', ''],
    ])('should replace a caller id %s by a new UUID, in the header and the error body', async (_, id) => {
      const user = await signUp(t.url, 'rep');
      const headers = { 'x-request-id': id };

      const ok = await user.http.get('/api/profiles/me', headers);
      const error = await anon.get('/api/profiles/me', headers);

      expect(ok.status).toBe(200);
      expect(ok.headers.get('x-request-id')).toMatch(UUID);
      const problem = expectProblem(error, 401, 'UNAUTHENTICATED');
      expect(problem.requestId).toMatch(UUID);
      expect(problem.requestId).not.toBe(ok.headers.get('x-request-id'));
    });

    it('should echo the caller id on errors raised before routing (malformed JSON, oversized body, unknown route)', async () => {
      const user = await signUp(t.url, 'early');
      const headers = { 'x-request-id': 'early-req:1' };

      const malformed = await user.http.post('/api/rooms', '{"name": ', headers);
      const oversized = await user.http.post('/api/rooms', { name: 'x', pad: 'a'.repeat(BODY_LIMIT_BYTES) }, headers);
      const unknown = await user.http.get('/api/no-such-route', headers);

      expect(expectProblem(malformed, 400, 'VALIDATION_FAILED').requestId).toBe('early-req:1');
      expect(expectProblem(oversized, 413, 'PAYLOAD_TOO_LARGE').requestId).toBe('early-req:1');
      expect(expectProblem(unknown, 404, 'NOT_FOUND').requestId).toBe('early-req:1');
      expect((await user.http.get('/api/rooms')).body.rooms).toEqual([]);
    });

    it.each([['/health/live'], ['/health/ready'], ['/metrics'], ['/api/docs'], ['/api/docs-json']])(
      'should be on the answer of %s too (operational and documentation routes)',
      async (path) => {
        const res = await anon.get(path, { 'x-request-id': 'ops-1' });

        expect(res.status).toBe(200);
        expect(res.headers.get('x-request-id')).toBe('ops-1');
        expect((await anon.get(path)).headers.get('x-request-id')).toMatch(UUID);
      },
    );
  });

  describe('request bodies', () => {
    it('should answer 400 VALIDATION_FAILED problem+json for malformed JSON and store nothing', async () => {
      const user = await signUp(t.url, 'json');
      const name = uniqueRoomName('malformed');

      for (const body of [`{"name": "${name}", "visibility": "public"`, `{name: '${name}'}`, '{"name": }', 'nope']) {
        const problem = expectProblem(await user.http.post('/api/rooms', body), 400, 'VALIDATION_FAILED');
        expect(problem.detail).not.toMatch(/at .+\.js|SyntaxError|Unexpected token/);
      }

      expect((await user.http.get('/api/rooms')).body.rooms).toEqual([]);
      expect((await user.http.get(`/api/rooms/public?q=${name}`)).body.rooms).toEqual([]);
    });

    it('should answer 400 VALIDATION_FAILED for malformed JSON on register and store nothing', async () => {
      const username = uniqueUsername('mal');
      const password = newPassword();

      expectProblem(
        await anon.post('/api/auth/register', `{"username": "${username}", "password": "${password}"`),
        400,
        'VALIDATION_FAILED',
      );

      expect((await anon.post('/api/auth/register', { username, password })).status).toBe(201);
    });

    it('should answer 413 PAYLOAD_TOO_LARGE for a body over 64 KiB and store nothing', async () => {
      const user = await signUp(t.url, 'big');
      const name = uniqueRoomName('oversized');
      const body = JSON.stringify({ name, visibility: 'public', ai: { systemPrompt: 'a'.repeat(BODY_LIMIT_BYTES) } });
      expect(Buffer.byteLength(body)).toBeGreaterThan(BODY_LIMIT_BYTES);

      const problem = expectProblem(await user.http.post('/api/rooms', body), 413, 'PAYLOAD_TOO_LARGE');

      expect(problem.detail).toEqual(expect.any(String));
      expect((await user.http.get('/api/rooms')).body.rooms).toEqual([]);
      expect((await user.http.get(`/api/rooms/public?q=${name}`)).body.rooms).toEqual([]);
    });

    it('should answer 413 PAYLOAD_TOO_LARGE for an oversized register and leave the username free', async () => {
      const username = uniqueUsername('huge');
      const password = newPassword();

      expectProblem(
        await anon.post('/api/auth/register', { username, password, displayName: 'x'.repeat(BODY_LIMIT_BYTES + 1) }),
        413,
        'PAYLOAD_TOO_LARGE',
      );

      expect((await anon.post('/api/auth/register', { username, password })).status).toBe(201);
    });

    it('should accept a body just under 64 KiB (the limit is not smaller)', async () => {
      const user = await signUp(t.url, 'under');
      const name = uniqueRoomName('under');
      const skeleton = JSON.stringify({ name, pad: '' });
      const body = JSON.stringify({ name, pad: 'a'.repeat(BODY_LIMIT_BYTES - 100 - skeleton.length) });
      expect(Buffer.byteLength(body)).toBeLessThan(BODY_LIMIT_BYTES);

      const res = await user.http.post('/api/rooms', body);

      expect(res.status).toBe(201);
      expect(res.body.name).toBe(name);
    });
  });

  describe('unknown routes', () => {
    it.each([
      ['GET', '/api/no-such-route'],
      ['POST', '/api/no-such-route'],
      ['GET', `/api/rooms/${randomUUID()}/no-such-thing`],
      ['DELETE', '/api/profiles'],
      ['GET', '/api'],
    ])('should answer 404 NOT_FOUND problem+json for %s %s', async (method, path) => {
      const user = await signUp(t.url, 'nf');
      const problem = expectProblem(await user.http.request(method, path), 404, 'NOT_FOUND');
      expect(problem.detail).not.toContain('Cannot');
    });

    it.each([['/no-such-route'], ['/no-such-page.html'], ['/health/nope'], [`/${'x'.repeat(2000)}`]])(
      'should answer 404 NOT_FOUND problem+json for %s without a token',
      async (path) => {
        expectProblem(await anon.get(path), 404, 'NOT_FOUND');
      },
    );
  });

  describe('GET /', () => {
    it('should serve the demo client page without a token', async () => {
      const res = await anon.get('/');
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
      expect(res.headers.get('x-request-id')).toMatch(/^[A-Za-z0-9._:-]{1,128}$/);
    });
  });

  describe('GET /health/live', () => {
    it('should answer 200 with the terminus body, without a token', async () => {
      const res = await anon.get('/health/live');

      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(res.body).toEqual({ status: 'ok', info: expect.any(Object), error: {}, details: expect.any(Object) });
    });

    it('should answer 200 even with a bad token', async () => {
      expect((await anon.get('/health/live', { authorization: 'Bearer garbage' })).status).toBe(200);
    });
  });

  describe('GET /health/ready', () => {
    it('should answer 200 with the terminus body and an up database entry, without a token', async () => {
      const res = await anon.get('/health/ready');

      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(Object.keys(res.body).sort()).toEqual(['details', 'error', 'info', 'status']);
      expect(res.body).toMatchObject({
        status: 'ok',
        info: { database: { status: 'up' } },
        error: {},
        details: { database: { status: 'up' } },
      });
    });

    it('should answer 200 even with a bad token', async () => {
      expect((await anon.get('/health/ready', { authorization: 'Bearer garbage' })).status).toBe(200);
    });
  });

  describe('GET /metrics', () => {
    it('should answer Prometheus text without a token, with process metrics and HTTP timings by route pattern', async () => {
      const user = await signUp(t.url, 'met');
      const created = await user.http.post('/api/rooms', { name: uniqueRoomName('metrics') });
      expect(created.status).toBe(201);
      const roomId: string = created.body.id;
      const missingId = randomUUID();
      expect((await user.http.get(`/api/rooms/${roomId}`)).status).toBe(200);
      expect((await user.http.get(`/api/rooms/${missingId}`)).status).toBe(404);
      expect((await user.http.get(`/api/profiles/${user.id}`)).status).toBe(200);

      const res = await anon.get('/metrics');

      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
      const text: string = res.body;
      expect(text).toMatch(/^process_cpu_user_seconds_total \d/m);
      expect(text).toContain('# TYPE http_request_duration_seconds histogram');
      const counts = text.split('\n').filter((line) => line.startsWith('http_request_duration_seconds_count{'));
      const has = (route: string, status: string) =>
        counts.some((line) => line.includes(`route="${route}"`) && line.includes(`status="${status}"`));
      expect(has('/api/rooms/:id', '200')).toBe(true);
      expect(has('/api/rooms/:id', '404')).toBe(true);
      expect(has('/api/profiles/:id', '200')).toBe(true);
      expect(has('/api/rooms', '201')).toBe(true);
      expect(text).not.toContain(roomId);
      expect(text).not.toContain(missingId);
      expect(text).not.toContain(user.id);
    });

    it('should label a request to an unknown path without its raw path', async () => {
      const marker = `nowhere-${randomBytes(6).toString('hex')}`;
      expect((await anon.get(`/${marker}`)).status).toBe(404);

      const res = await anon.get('/metrics');

      expect(res.status).toBe(200);
      expect(res.body).not.toContain(marker);
    });
  });

  describe('GET /api/docs', () => {
    it('should answer 200 with the OpenAPI UI page, without a token', async () => {
      const res = await anon.get('/api/docs');

      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
      expect(res.body).toMatch(/<html/i);
      expect(res.body).toMatch(/swagger/i);
    });
  });

  describe('GET /api/docs-json', () => {
    let doc: any;
    let bearerScheme: string;

    beforeAll(async () => {
      const res = await anon.get('/api/docs-json');
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      doc = res.body;
      const schemes = Object.entries<any>(doc?.components?.securitySchemes ?? {});
      bearerScheme =
        schemes.find(([, s]) => s.type === 'http' && String(s.scheme).toLowerCase() === 'bearer')?.[0] ?? '';
    });

    it('should be an OpenAPI 3 document with a bearer security scheme', () => {
      expect(doc.openapi).toMatch(/^3\./);
      expect(doc.info).toMatchObject({ title: expect.any(String), version: expect.any(String) });
      expect(bearerScheme).not.toBe('');
    });

    it.each(PROTECTED_OPERATIONS)('should document %s %s with bearer security', (path, method) => {
      const operation = doc.paths?.[path]?.[method];
      expect({ path, method, documented: operation !== undefined }).toEqual({ path, method, documented: true });
      const security: Record<string, unknown>[] = operation.security ?? doc.security ?? [];
      expect(security).toContainEqual({ [bearerScheme]: [] });
    });

    it.each(PUBLIC_OPERATIONS)('should document %s %s without bearer security', (path, method) => {
      const operation = doc.paths?.[path]?.[method];
      expect({ path, method, documented: operation !== undefined }).toEqual({ path, method, documented: true });
      const security: Record<string, unknown>[] = operation.security ?? doc.security ?? [];
      expect(security.some((requirement) => bearerScheme in requirement)).toBe(false);
    });
  });
});

describe('HTTP rate limits (RATE_HTTP_PER_MINUTE=5, RATE_AUTH_PER_MINUTE=3)', () => {
  const t = useTestApp({ RATE_HTTP_PER_MINUTE: '5', RATE_AUTH_PER_MINUTE: '3' });

  describe('POST /api/auth/register and /api/auth/login (per IP)', () => {
    it('should refuse the 4th sign-in attempt from one IP with 429 RATE_LIMITED and Retry-After, storing nothing', async () => {
      const ip = freshLoopbackAddress();
      const username = uniqueUsername('rl');
      const password = newPassword();
      const send = (path: string, body: unknown) => requestFrom(t.url, ip, 'POST', path, body);

      expect((await send('/api/auth/register', { username, password })).status).toBe(201);
      expect((await send('/api/auth/login', { username, password: `${password}x` })).status).toBe(401);
      expect((await send('/api/auth/login', { username, password })).status).toBe(200);

      const lateUsername = uniqueUsername('late');
      const refused = await send('/api/auth/register', { username: lateUsername, password });
      expectRetryAfter(refused);
      expectRetryAfter(await send('/api/auth/login', { username, password }));

      // Another IP is still served, and the refused register stored nothing: its username is free.
      const other = freshLoopbackAddress();
      const late = await requestFrom(t.url, other, 'POST', '/api/auth/register', { username: lateUsername, password });
      expect(late.status).toBe(201);
      expect(late.body.profile.username).toBe(lateUsername);
    });

    it('should count failed attempts too (invalid bodies and wrong passwords)', async () => {
      const ip = freshLoopbackAddress();
      const send = (path: string, body: unknown) => requestFrom(t.url, ip, 'POST', path, body);

      expect((await send('/api/auth/register', { username: 'X' })).status).toBe(400);
      expect((await send('/api/auth/login', { username: uniqueUsername('no'), password: 'whatever1' })).status).toBe(
        401,
      );
      expect((await send('/api/auth/login', {})).status).toBe(400);

      const username = uniqueUsername('after');
      expectRetryAfter(await send('/api/auth/register', { username, password: newPassword() }));
      expect(
        (await requestFrom(t.url, freshLoopbackAddress(), 'POST', '/api/auth/login', { username, password: 'x' }))
          .status,
      ).toBe(401);
    });
  });

  describe('POST /api/auth/refresh and /api/auth/logout (per IP, in the sign-in budget)', () => {
    it('should refuse the 4th refresh or logout from one IP with 429, spending no refresh token', async () => {
      const registered = await requestFrom(t.url, freshLoopbackAddress(), 'POST', '/api/auth/register', {
        username: uniqueUsername('rlr'),
        password: newPassword(),
      });
      expect(registered.status).toBe(201);
      const ip = freshLoopbackAddress();
      const send = (path: string, body: unknown) => requestFrom(t.url, ip, 'POST', path, body);
      const unknown = () => ({ refreshToken: randomBytes(32).toString('base64url') });

      expect((await send('/api/auth/refresh', unknown())).status).toBe(401);
      expect((await send('/api/auth/logout', unknown())).status).toBe(204);
      expect((await send('/api/auth/refresh', { refreshToken: 7 })).status).toBe(400);

      expectRetryAfter(await send('/api/auth/refresh', { refreshToken: registered.body.refreshToken }));
      expectRetryAfter(await send('/api/auth/logout', { refreshToken: registered.body.refreshToken }));
      // The refused calls neither spent nor revoked the session: it refreshes from another IP.
      const refreshed = await requestFrom(t.url, freshLoopbackAddress(), 'POST', '/api/auth/refresh', {
        refreshToken: registered.body.refreshToken,
      });
      expect(refreshed.status).toBe(200);
      expect(refreshed.body.profile.id).toBe(registered.body.profile.id);
    });
  });

  describe('signed-in requests (per user)', () => {
    it('should refuse a user’s 6th request in a minute with 429 while another user is still served', async () => {
      const a = await signUpFrom(t.url, freshLoopbackAddress(), 'rla');
      const b = await signUpFrom(t.url, freshLoopbackAddress(), 'rlb');

      for (let i = 0; i < 5; i++) {
        expect((await a.http.get('/api/profiles/me')).status).toBe(200);
      }
      expectRetryAfter(await a.http.get('/api/profiles/me'));
      expectRetryAfter(await a.http.get('/api/rooms'));

      const res = await b.http.get('/api/profiles/me');
      expect(res.status).toBe(200);
      expect(res.body.id).toBe(b.id);
    });

    it('should store nothing of a rate-limited request (no room from a refused POST /api/rooms)', async () => {
      const a = await signUpFrom(t.url, freshLoopbackAddress(), 'rlc');
      const b = await signUpFrom(t.url, freshLoopbackAddress(), 'rld');
      const probe = uniqueRoomName('probe');
      const limited = uniqueRoomName('limited');
      expect((await b.http.post('/api/rooms', { name: probe, visibility: 'public' })).status).toBe(201);

      for (let i = 0; i < 5; i++) {
        expect((await a.http.get('/api/rooms')).status).toBe(200);
      }
      expectRetryAfter(await a.http.post('/api/rooms', { name: limited, visibility: 'public' }));

      const none = await b.http.get(`/api/rooms/public?q=${limited}`);
      expect(none.status).toBe(200);
      expect(none.body.rooms).toEqual([]);
      // Control: the search does find a public room created by a served request.
      const found = await b.http.get(`/api/rooms/public?q=${probe}`);
      expect(found.status).toBe(200);
      expect(found.body.rooms.map((r: { name: string }) => r.name)).toEqual([probe]);
    });
  });

  describe('operations', () => {
    it('should never rate-limit /health/live, /health/ready or /metrics, nor count them against the caller IP', async () => {
      const ip = freshLoopbackAddress();
      for (const path of ['/health/live', '/health/ready', '/metrics']) {
        const statuses: number[] = [];
        for (let i = 0; i < 8; i++) {
          statuses.push((await requestFrom(t.url, ip, 'GET', path)).status);
        }
        expect({ path, statuses }).toEqual({ path, statuses: Array<number>(8).fill(200) });
      }

      const username = uniqueUsername('ops');
      const res = await requestFrom(t.url, ip, 'POST', '/api/auth/register', { username, password: newPassword() });
      expect(res.status).toBe(201);
    });
  });
});
