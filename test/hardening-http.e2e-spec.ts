import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import type { Socket } from 'socket.io-client';
import { freshLoopbackAddress, newPassword, requestFrom, signUpFrom } from './support/auth-helpers';
import { startCluster, type Cluster } from './support/cluster';
import {
  expectProblem,
  HttpClient,
  signUp,
  uniqueUsername,
  type HttpResult,
  type TestUser,
} from './support/http-client';
import { expectErrorAck } from './support/realtime-helpers';
import { expectValidation } from './support/rooms-helpers';
import { startServerProcess, type ServerProcess } from './support/server-process';
import { ack, joinRoom } from './support/socket-client';
import { useTestApp } from './support/test-app';

/** `{"a":{"a":…}}` nested `levels` deep, as JSON text (5,000 levels: about 30 KB). */
function deepJson(levels: number): string {
  return `${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`;
}

/**
 * Emits `event` with a payload given as JSON text (socket.io-client's own JSON.stringify cannot take 5,000 levels)
 * as the raw Socket.IO packet, and resolves with its ack.
 */
function emitJsonWithAck(socket: Socket, event: string, payloadJson: string): Promise<any> {
  const id = randomInt(1_000_000, 2_000_000);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.io.off('packet', onPacket);
      reject(new Error(`no ack for ${event} within 10 s`));
    }, 10_000);
    const onPacket = (packet: { type: number; nsp: string; id?: number; data?: unknown[] }) => {
      if (packet.type === ACK && packet.nsp === '/chat' && packet.id === id) {
        clearTimeout(timer);
        socket.io.off('packet', onPacket);
        resolve(packet.data?.[0]);
      }
    };
    socket.io.on('packet', onPacket);
    socket.io.engine.write(`${EVENT}/chat,${id}[${JSON.stringify(event)},${payloadJson}]`);
  });
}

/** Socket.IO packet types. */
const EVENT = 2;
const ACK = 3;

function uniqueRoomName(prefix: string): string {
  return `${prefix}-${randomBytes(6).toString('hex')}`;
}

/** One request with a raw body (bytes as they are) and the headers given, answered like HttpClient does. */
async function sendRaw(
  url: string,
  method: string,
  body: Buffer | string,
  headers: Record<string, string>,
): Promise<HttpResult> {
  const res = await fetch(url, { method, headers, body });
  const text = await res.text();
  const parsed: unknown = text && /json/.test(res.headers.get('content-type') ?? '') ? JSON.parse(text) : text;
  return { status: res.status, headers: res.headers, body: parsed };
}

/** Asserts a 429 RATE_LIMITED problem with Retry-After in whole seconds, equal to ceil(retryAfterMs / 1000). */
function expectRetryAfter(res: HttpResult): void {
  const problem = expectProblem(res, 429, 'RATE_LIMITED');
  const header = res.headers.get('retry-after');
  expect(header).toMatch(/^[1-9]\d*$/);
  expect(problem.retryAfterMs).toBeGreaterThan(0);
  expect(Number(header)).toBe(Math.ceil(problem.retryAfterMs / 1000));
}

describe('hardening of the HTTP and Socket.IO edge', () => {
  describe('payload inspection', () => {
    const t = useTestApp();

    async function openSocket(prefix: string): Promise<{ user: TestUser; socket: Socket }> {
      const user = await signUp(t.url, prefix);
      return { user, socket: await t.sockets.open(user) };
    }

    it.each<[string, (roomId: string) => Record<string, unknown>, string]>([
      ['10 × 60 KB buffers in an unknown field', (roomId) => ({ roomId, pad: bufferList(10) }), 'pad.0'],
      ['a buffer as the room id', () => ({ roomId: Buffer.from(randomUUID()) }), 'roomId'],
      ['a typed array nested in an object', (roomId) => ({ roomId, meta: { blob: new Uint16Array(8) } }), 'meta.blob'],
      ['an ArrayBuffer', (roomId) => ({ roomId, raw: new ArrayBuffer(16) }), 'raw'],
    ])('should refuse a room:leave carrying %s with VALIDATION_FAILED naming the field', async (_, payload, field) => {
      const { socket } = await openSocket('bin');

      const res = await ack(socket, 'room:leave', payload(randomUUID()));

      expectErrorAck(res, 'VALIDATION_FAILED', field);
      // The socket is still served.
      expect(await ack(socket, 'room:leave', { roomId: randomUUID() })).toEqual({ ok: true });
    });

    it('should refuse a message:send whose content is a buffer and store nothing', async () => {
      const { user, socket } = await openSocket('binsend');
      const room = await user.http.post('/api/rooms', { name: uniqueRoomName('bin'), ai: { mode: 'off' } });
      expect(room.status).toBe(201);

      const res = await ack(socket, 'message:send', {
        roomId: room.body.id,
        content: Buffer.from('hello'),
        clientId: 'bin-1',
      });

      expectErrorAck(res, 'VALIDATION_FAILED', 'content');
      expect((await user.http.get(`/api/rooms/${room.body.id}/messages`)).body.messages).toEqual([]);
    });

    it('should refuse a flood of 40 room:leave carrying 10 × 60 KB buffers each without reading an attachment, and keep serving others', async () => {
      const { socket: flooder } = await openSocket('flood');
      const { user: bob, socket: bystander } = await openSocket('bystander');
      const room = await bob.http.post('/api/rooms', { name: uniqueRoomName('calm'), ai: { mode: 'off' } });
      // The app runs in this process: every walk of its own over an object's properties (what read every byte of
      // an attachment before) is seen here. What the flood costs a bystander in time is the bench's `binary` kind.
      const walks = [jest.spyOn(Object, 'keys'), jest.spyOn(Object, 'entries'), jest.spyOn(Object, 'values')];
      let acks: unknown[];
      let attachmentsWalked: number;
      try {
        const flood = Promise.all(
          Array.from({ length: 40 }, () => ack(flooder, 'room:leave', { roomId: randomUUID(), pad: bufferList(10) })),
        );
        await joinRoom(bystander, room.body.id);
        acks = await flood;
        attachmentsWalked = walks
          .flatMap((walk) => walk.mock.calls)
          .filter(([value]) => ArrayBuffer.isView(value)).length;
      } finally {
        walks.forEach((walk) => walk.mockRestore());
      }

      for (const res of acks) {
        expectErrorAck(res, 'VALIDATION_FAILED', 'pad.0');
      }
      expect(attachmentsWalked).toBe(0);
    });

    it('should answer VALIDATION_FAILED to a socket payload nested 5,000 levels deep', async () => {
      const { socket } = await openSocket('deep');

      const res = await emitJsonWithAck(socket, 'room:leave', `{"roomId":"${randomUUID()}","deep":${deepJson(5000)}}`);

      expectErrorAck(res, 'VALIDATION_FAILED');
      expect(await ack(socket, 'room:leave', { roomId: randomUUID() })).toEqual({ ok: true });
    });

    it('should answer 400 VALIDATION_FAILED to a JSON body nested 5,000 levels deep and store nothing', async () => {
      const user = await signUp(t.url, 'deephttp');
      const name = uniqueRoomName('deep');
      const body = `{"name":"${name}","deep":${deepJson(5000)}}`;
      expect(body.length).toBeGreaterThan(30_000);
      const room = await user.http.post('/api/rooms', { name: uniqueRoomName('kept') });

      expectProblem(await user.http.post('/api/rooms', body), 400, 'VALIDATION_FAILED');
      expectProblem(await user.http.patch(`/api/rooms/${room.body.id}`, body), 400, 'VALIDATION_FAILED');
      expectProblem(await user.http.post('/api/auth/register', deepJson(5000)), 400, 'VALIDATION_FAILED');

      expect((await user.http.get('/api/rooms')).body.rooms.map((r: { name: string }) => r.name)).toEqual([
        room.body.name,
      ]);
    });

    it('should still accept a body with a modest unknown structure (unknown fields are ignored)', async () => {
      const user = await signUp(t.url, 'modest');
      const name = uniqueRoomName('modest');

      const res = await user.http.post('/api/rooms', { name, client: { tags: ['a', 'b'], nested: { level: [1, 2] } } });

      expect(res.status).toBe(201);
      expect(res.body.name).toBe(name);
    });
  });

  describe('malformed bodies', () => {
    const t = useTestApp();
    const garbage = Buffer.from('definitely not compressed');

    it.each<[string, Buffer]>([
      ['gzip', garbage],
      ['br', garbage],
      ['deflate', garbage],
      ['gzip', gzipSync('{"name":"cut short"}').subarray(0, 12)],
    ])('should answer 400 VALIDATION_FAILED on "body" for a %s body that does not decode', async (encoding, bytes) => {
      const user = await signUp(t.url, 'enc');

      const res = await sendRaw(`${t.url}/api/rooms`, 'POST', bytes, {
        'content-type': 'application/json',
        'content-encoding': encoding,
        authorization: `Bearer ${user.token}`,
      });

      expectValidation(res, 'body');
      expect((await user.http.get('/api/rooms')).body.rooms).toEqual([]);
    });

    it.each<[string, (text: string) => Buffer]>([
      ['gzip', (text) => gzipSync(text)],
      ['br', (text) => brotliCompressSync(text)],
      ['deflate', (text) => deflateSync(text)],
    ])('should still take a %s body that decodes (control)', async (encoding, encode) => {
      const user = await signUp(t.url, 'encok');
      const name = uniqueRoomName('enc');

      const res = await sendRaw(`${t.url}/api/rooms`, 'POST', encode(JSON.stringify({ name })), {
        'content-type': 'application/json',
        'content-encoding': encoding,
        authorization: `Bearer ${user.token}`,
      });

      expect(res.status).toBe(201);
      expect(res.body.name).toBe(name);
    });

    it('should store a lone surrogate as U+FFFD alike on POST and PATCH /api/rooms/:id', async () => {
      const user = await signUp(t.url, 'surr');
      const created = await user.http.post('/api/rooms', '{"name":"\\ud800x"}');
      expect(created.status).toBe(201);
      expect(created.body.name).toBe('\ufffdx');

      const patched = await user.http.patch(
        `/api/rooms/${created.body.id}`,
        '{"name":"y\\udc00","ai":{"systemPrompt":"p\\ud83d"}}',
      );

      expect(patched.status).toBe(200);
      expect(patched.body.name).toBe('y\ufffd');
      expect(patched.body.ai.systemPrompt).toBe('p\ufffd');
      const read = await user.http.get(`/api/rooms/${created.body.id}`);
      expect([read.body.name, read.body.ai.systemPrompt]).toEqual(['y\ufffd', 'p\ufffd']);
    });

    it('should store a lone surrogate as U+FFFD on PATCH /api/profiles/me, and keep a whole pair', async () => {
      const user = await signUp(t.url, 'surp');

      const patched = await user.http.patch('/api/profiles/me', '{"displayName":"\\ud800x \\ud83d\\ude00"}');

      expect(patched.status).toBe(200);
      expect(patched.body.displayName).toBe('\ufffdx 😀');
      expect((await user.http.get('/api/profiles/me')).body.displayName).toBe('\ufffdx 😀');
    });
  });

  describe('per-IP limits before authentication (RATE_HTTP_PER_MINUTE=5)', () => {
    const t = useTestApp({ RATE_HTTP_PER_MINUTE: '5' });

    it('should count calls that fail authentication against the IP: the 6th bad token is 429 with Retry-After', async () => {
      const ip = freshLoopbackAddress();
      const bad = { authorization: `Bearer ${randomBytes(24).toString('base64url')}` };

      for (let i = 0; i < 5; i++) {
        expectProblem(await requestFrom(t.url, ip, 'GET', '/api/profiles/me', undefined, bad), 401, 'UNAUTHENTICATED');
      }

      expectRetryAfter(await requestFrom(t.url, ip, 'GET', '/api/profiles/me', undefined, bad));
      expectRetryAfter(await requestFrom(t.url, ip, 'GET', '/api/rooms'));
      expectRetryAfter(await requestFrom(t.url, ip, 'POST', '/api/rooms', { name: 'x' }, bad));
      // Another IP is not affected.
      expectProblem(
        await requestFrom(t.url, freshLoopbackAddress(), 'GET', '/api/profiles/me', undefined, bad),
        401,
        'UNAUTHENTICATED',
      );
    });

    it('should share the IP budget with sign-in, and leave a signed-in user of that IP their own budget', async () => {
      const ip = freshLoopbackAddress();
      const user = await signUpFrom(t.url, ip, 'ipok');

      for (let i = 0; i < 4; i++) {
        expect((await requestFrom(t.url, ip, 'GET', '/api/rooms')).status).toBe(401);
      }

      expectRetryAfter(await requestFrom(t.url, ip, 'GET', '/api/rooms'));
      expectRetryAfter(
        await requestFrom(t.url, ip, 'POST', '/api/auth/register', {
          username: uniqueUsername('late'),
          password: newPassword(),
        }),
      );
      const mine = await requestFrom(t.url, ip, 'GET', '/api/profiles/me', undefined, {
        authorization: `Bearer ${user.token}`,
      });
      expect(mine.status).toBe(200);
      expect(mine.body.id).toBe(user.id);
    });
  });

  describe('per-IP limits before authentication across instances (Redis, RATE_HTTP_PER_MINUTE=6)', () => {
    let cluster: Cluster;

    beforeAll(async () => {
      cluster = await startCluster({ env: { RATE_HTTP_PER_MINUTE: '6', LOG_LEVEL: 'info' } });
    });

    afterAll(async () => {
      await cluster?.close();
    });

    it('should count bad tokens from one IP once across instances', async () => {
      const ip = freshLoopbackAddress();
      const [a, b] = cluster.urls;
      const bad = { authorization: 'Bearer not-a-token' };

      for (let i = 0; i < 6; i++) {
        const res = await requestFrom(i % 2 === 0 ? a : b, ip, 'GET', '/api/rooms', undefined, bad);
        expectProblem(res, 401, 'UNAUTHENTICATED');
      }

      expectRetryAfter(await requestFrom(a, ip, 'GET', '/api/rooms', undefined, bad));
      expectRetryAfter(await requestFrom(b, ip, 'GET', '/api/rooms', undefined, bad));
    });
  });

  describe('security headers', () => {
    const t = useTestApp({ RATE_HTTP_PER_MINUTE: '3' });

    it('should send X-Content-Type-Options: nosniff on every kind of response', async () => {
      const anon = new HttpClient(t.url);
      const user = await signUpFrom(t.url, freshLoopbackAddress(), 'hdr');
      const busy = await signUpFrom(t.url, freshLoopbackAddress(), 'busy');
      for (let i = 0; i < 3; i++) {
        expect((await busy.http.get('/api/rooms')).status).toBe(200);
      }
      const responses: [string, HttpResult][] = [
        ['api', await user.http.get('/api/profiles/me')],
        ['401', await anon.get('/api/rooms')],
        ['404', await anon.get('/api/no-such-route')],
        ['400 malformed JSON', await user.http.post('/api/rooms', '{"name": ')],
        ['413', await user.http.post('/api/rooms', { name: 'x', pad: 'a'.repeat(70_000) })],
        ['429', await busy.http.get('/api/rooms')],
        ['health live', await anon.get('/health/live')],
        ['health ready', await anon.get('/health/ready')],
        ['metrics', await anon.get('/metrics')],
        ['static page', await anon.get('/')],
        ['docs', await anon.get('/api/docs')],
        ['docs json', await anon.get('/api/docs-json')],
      ];

      expect(responses.map(([what, res]) => [what, res.status])).toEqual([
        ['api', 200],
        ['401', 401],
        ['404', 404],
        ['400 malformed JSON', 400],
        ['413', 413],
        ['429', 429],
        ['health live', 200],
        ['health ready', 200],
        ['metrics', 200],
        ['static page', 200],
        ['docs', 200],
        ['docs json', 200],
      ]);
      expect(responses.map(([what, res]) => [what, res.headers.get('x-content-type-options')])).toEqual(
        responses.map(([what]) => [what, 'nosniff']),
      );
    });

    it('should forbid framing the docs page (X-Frame-Options: DENY, frame-ancestors none)', async () => {
      const res = await new HttpClient(t.url).get('/api/docs');

      expect(res.status).toBe(200);
      expect(res.headers.get('x-frame-options')).toBe('DENY');
      expect(res.headers.get('content-security-policy')).toMatch(/(^|;)\s*frame-ancestors 'none'\s*(;|$)/);
    });

    it('should keep the demo page its own Content-Security-Policy', async () => {
      const res = await new HttpClient(t.url).get('/');

      expect(res.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
      expect(res.headers.get('content-security-policy')).toMatch(/frame-ancestors 'none'/);
    });
  });

  describe('request URLs in logs (the server as a process)', () => {
    let dataDir: string;
    let server: ServerProcess;

    beforeAll(async () => {
      dataDir = await mkdtemp(join(tmpdir(), 'chat-hardening-'));
      server = await startServerProcess({
        DATA_DIR: dataDir,
        RATE_HTTP_PER_MINUTE: '100000',
        RATE_AUTH_PER_MINUTE: '1000',
      });
    });

    afterAll(async () => {
      await server?.stop('SIGKILL');
      await rm(dataDir, { recursive: true, force: true });
    });

    /** Resolves with the line that ends the request `requestId` once the process has printed it. */
    function requestLine(requestId: string): Promise<Record<string, unknown>> {
      const find = () =>
        server.lines.find(
          (line) => line.requestId === requestId && /^request (completed|failed)$/.test(String(line.msg)),
        );
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          server.child.stdout.off('data', check);
          reject(new Error(`no log line for request ${requestId} within 10 s`));
        }, 10_000);
        const check = () => {
          const line = find();
          if (line) {
            clearTimeout(timer);
            server.child.stdout.off('data', check);
            resolve(line);
          }
        };
        server.child.stdout.on('data', check);
        check();
      });
    }

    it('should log the path of a request but none of its query values (a token in ?access_token=)', async () => {
      const user = await signUp(server.url, 'logq');
      const secrets = Array.from({ length: 4 }, () => `SECRET${randomBytes(12).toString('hex')}`);
      const anon = new HttpClient(server.url);

      const responses = [
        await user.http.get(`/api/rooms?access_token=${secrets[0]}`),
        await anon.get(`/api/rooms?access_token=${secrets[1]}&other=1`),
        await anon.get(`/api/no-such-route?${secrets[2]}`),
        await user.http.get(`/api/rooms/public?q=${secrets[3]}&limit=5`),
      ];
      expect(responses.map((r) => r.status)).toEqual([200, 401, 404, 200]);
      const lines = await Promise.all(responses.map((r) => requestLine(r.headers.get('x-request-id') ?? '')));

      expect(lines.map((line) => new URL((line.req as { url: string }).url, 'http://x').pathname)).toEqual([
        '/api/rooms',
        '/api/rooms',
        '/api/no-such-route',
        '/api/rooms/public',
      ]);
      const printed = [...server.lines.map((line) => JSON.stringify(line)), ...server.stderr];
      expect(printed.filter((line) => secrets.some((secret) => line.includes(secret)))).toEqual([]);
    });
  });
});

function bufferList(count: number): Buffer[] {
  return Array.from({ length: count }, () => Buffer.alloc(60_000, 1));
}
