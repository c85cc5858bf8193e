import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpClient, signUp } from './support/http-client';
import { failedStart, startServerProcess, type ServerProcess } from './support/server-process';

const HIGH_LIMITS = { RATE_HTTP_PER_MINUTE: '100000', RATE_SEND_PER_10S: '100000', RATE_AUTH_PER_MINUTE: '1000' };

describe('the server as a process (node dist/main.js)', () => {
  let dataDir: string;
  let server: ServerProcess | undefined;

  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'chat-proc-'));
  });

  afterEach(async () => {
    await server?.stop('SIGKILL');
    server = undefined;
    await rm(dataDir, { recursive: true, force: true });
  });

  it('should answer ready on a fresh data directory and keep users, rooms and messages across a restart', async () => {
    server = await startServerProcess({ DATA_DIR: dataDir, ...HIGH_LIMITS });
    const ready = await new HttpClient(server.url).get('/health/ready');
    expect(ready.status).toBe(200);
    expect(ready.body).toMatchObject({ status: 'ok', info: { database: { status: 'up', driver: 'pglite' } } });

    const alice = await signUp(server.url, 'alice');
    const room = await alice.http.post('/api/rooms', { name: 'kept', ai: { mode: 'off' } });
    const sent = await alice.http.post(`/api/rooms/${room.body.id}/messages`, {
      content: 'still here?',
      clientId: 'k1',
    });
    expect(sent.status).toBe(201);
    const firstRun = server;
    expect(await server.stop('SIGTERM')).toEqual({ code: 0, signal: null });

    // The JSON logs name each request by id with its duration, and never hold a secret or a message.
    const logged = JSON.stringify(firstRun.lines);
    for (const secret of [alice.password, alice.token, 'still here?']) {
      expect(logged).not.toContain(secret);
    }
    const sendLine = firstRun.lines.find(
      (l) => l.msg === 'request completed' && (l.req as { url: string }).url.endsWith('/messages'),
    );
    expect(sendLine).toMatchObject({
      requestId: sent.headers.get('x-request-id'),
      userId: alice.id,
      durationMs: expect.any(Number),
      res: { statusCode: 201 },
    });

    server = await startServerProcess({ DATA_DIR: dataDir, ...HIGH_LIMITS });
    const login = await new HttpClient(server.url).post('/api/auth/login', {
      username: alice.username,
      password: alice.password,
    });
    expect(login.status).toBe(200);
    const http = new HttpClient(server.url, login.body.accessToken);
    const rooms = await http.get('/api/rooms');
    expect(rooms.body.rooms.map((r: { id: string }) => r.id)).toEqual([room.body.id]);
    const page = await http.get(`/api/rooms/${room.body.id}/messages`);
    expect(page.body.messages).toEqual([sent.body.message]);
  });

  it('should lose no acknowledged write when stopped with SIGTERM in the middle of sends, and exit 0', async () => {
    server = await startServerProcess({ DATA_DIR: dataDir, ...HIGH_LIMITS });
    const alice = await signUp(server.url, 'alice');
    const room = await alice.http.post('/api/rooms', { name: 'busy', ai: { mode: 'off' } });
    const path = `/api/rooms/${room.body.id}/messages`;

    // 200 sends in flight; SIGTERM goes out as soon as the first one is acknowledged.
    let signalled = false;
    const running = server;
    const outcomes = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        alice.http.post(path, { content: `m${i}`, clientId: `c${i}` }).then(
          (res) => {
            if (!signalled && res.status === 201) {
              signalled = true;
              running.child.kill('SIGTERM');
            }
            return res;
          },
          () => undefined, // refused or cut: not acknowledged
        ),
      ),
    );
    expect(await server.stop()).toEqual({ code: 0, signal: null });
    const acknowledged = outcomes.filter((res) => res?.status === 201).map((res) => res!.body.message);
    expect(acknowledged.length).toBeGreaterThan(0);

    server = await startServerProcess({ DATA_DIR: dataDir, ...HIGH_LIMITS });
    const login = await new HttpClient(server.url).post('/api/auth/login', {
      username: alice.username,
      password: alice.password,
    });
    const http = new HttpClient(server.url, login.body.accessToken);
    const stored: { id: string; seq: number }[] = [];
    for (let afterSeq = 0; ;) {
      const page = await http.get(`${path}?afterSeq=${afterSeq}&limit=100`);
      stored.push(...page.body.messages);
      if (!page.body.hasMore) {
        break;
      }
      afterSeq = page.body.messages.at(-1).seq;
    }
    const storedIds = new Set(stored.map((m) => m.id));
    expect(acknowledged.filter((m: { id: string }) => !storedIds.has(m.id))).toEqual([]);
    expect(stored.map((m) => m.seq)).toEqual(stored.map((_, i) => i + 1));
  });

  it('should turn readiness to 503 and stop taking requests once SIGTERM arrives, and exit within 10 s', async () => {
    server = await startServerProcess({ DATA_DIR: dataDir, ...HIGH_LIMITS });
    const started = Date.now();
    const result = await server.stop('SIGTERM');
    expect(result).toEqual({ code: 0, signal: null });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(server.lines.map((l) => l.msg)).toEqual(expect.arrayContaining(['shutting down', 'database closed']));
    await expect(fetch(`${server.url}/health/live`)).rejects.toThrow();
  });

  it('should refuse to start with one line naming the variable when the configuration is bad', async () => {
    const badPort = await failedStart({ DATA_DIR: dataDir, PORT: 'eighty' });
    expect(badPort.code).toBe(1);
    expect(badPort.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^Invalid configuration: PORT: /)]);

    const embeddedInProduction = await failedStart({ DATA_DIR: dataDir, NODE_ENV: 'production' });
    expect(embeddedInProduction.code).toBe(1);
    expect(embeddedInProduction.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(
        /^Invalid configuration: DATABASE_URL: required when NODE_ENV=production .*ALLOW_EMBEDDED_DATABASE=true/,
      ),
    ]);

    const noSecret = await failedStart({ DATA_DIR: dataDir, NODE_ENV: 'production', ALLOW_EMBEDDED_DATABASE: 'true' });
    expect(noSecret.code).toBe(1);
    expect(noSecret.stderr.trim()).toMatch(
      /^Invalid configuration: LOCAL_JWT_SECRET: required when NODE_ENV=production$/,
    );
  });

  it('should start in local mode when unused Supabase variables are present', async () => {
    server = await startServerProcess({
      DATA_DIR: dataDir,
      ...HIGH_LIMITS,
      EXPO_PUBLIC_SUPABASE_URL: 'https://example.supabase.co',
      SUPABASE_JWT_SECRET: 'x'.repeat(40),
    });
    expect((await new HttpClient(server.url).get('/health/ready')).status).toBe(200);
  });
});
