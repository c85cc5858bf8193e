/**
 * Starting the server (and `npm run migrate`) as an operator does, as processes: one writer per DATA_DIR, and every
 * refusal one line on stderr that names the variable and what to do; a database server that is not up yet is waited
 * for, within DATABASE_CONNECT_TIMEOUT_MS.
 */
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpClient, signUp } from './support/http-client';
import { startPostgresServer, type PostgresServer } from './support/postgres-server';
import { failedStart, runMigrate, startServerProcess, type ServerProcess } from './support/server-process';

async function listen(server: Server, port = 0, host?: string): Promise<number> {
  server.listen(port, host);
  await once(server, 'listening');
  const address = server.address();
  return typeof address === 'object' && address ? address.port : port;
}

async function close(server: Server): Promise<void> {
  if (server.listening) {
    server.close();
    await once(server, 'close');
  }
}

/** A loopback port nothing listens on. */
async function unusedPort(): Promise<number> {
  const probe = createServer();
  const port = await listen(probe, 0, '127.0.0.1');
  await close(probe);
  return port;
}

function lines(stderr: string): string[] {
  return stderr.trimEnd().split('\n');
}

describe('starting the server (node dist/main.js) and npm run migrate (node dist/migrate.js)', () => {
  let dataDir: string;
  const servers: ServerProcess[] = [];

  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'chat-startup-'));
  });

  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.stop('SIGKILL')));
    await rm(dataDir, { recursive: true, force: true });
  });

  async function start(env: Record<string, string>): Promise<ServerProcess> {
    const server = await startServerProcess(env);
    servers.push(server);
    return server;
  }

  describe('one writer per DATA_DIR', () => {
    const inUse = (pid: number | undefined) =>
      `DATA_DIR ${dataDir} is in use by another process (pid ${pid}); stop it first or use another DATA_DIR`;

    it('should refuse a second server on the same DATA_DIR with one line naming it and the holder, and keep the first serving', async () => {
      const first = await start({ DATA_DIR: dataDir });

      const second = await failedStart({ DATA_DIR: dataDir });

      expect(second.code).toBe(1);
      expect(lines(second.stderr)).toEqual([inUse(first.child.pid)]);
      expect((await new HttpClient(first.url).get('/health/ready')).status).toBe(200);
    });

    it('should refuse npm run migrate while a server holds the DATA_DIR, and migrate once it is stopped', async () => {
      const server = await start({ DATA_DIR: dataDir });

      const refused = await runMigrate({ DATA_DIR: dataDir });

      expect(refused.code).toBe(1);
      expect(lines(refused.stderr)).toEqual([inUse(server.child.pid)]);
      expect(refused.stdout).toBe('');

      expect(await server.stop('SIGTERM')).toEqual({ code: 0, signal: null });
      const migrated = await runMigrate({ DATA_DIR: dataDir });
      expect(migrated).toEqual({
        code: 0,
        stdout: `${JSON.stringify({ driver: 'pglite', applied: [] })}\n`,
        stderr: '',
      });
    });

    it('should start on the DATA_DIR of a server that was killed (SIGKILL), with its data', async () => {
      const first = await start({ DATA_DIR: dataDir });
      const alice = await signUp(first.url, 'alice');
      expect(await first.stop('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });
      expect(existsSync(join(dataDir, 'db.lock'))).toBe(true); // left behind by the killed holder

      const second = await start({ DATA_DIR: dataDir });

      expect((await new HttpClient(second.url).get('/health/ready')).status).toBe(200);
      const login = await new HttpClient(second.url).post('/api/auth/login', {
        username: alice.username,
        password: alice.password,
      });
      expect(login.status).toBe(200);
    });
  });

  describe('start-up errors an operator can act on', () => {
    it.each([
      [{ PORT: 'abc' }, 'Invalid configuration: PORT: must be a whole number from 0 to 65535'],
      [
        { DATABASE_URL: 'mysql://chat:hunter2@db.internal/chat' },
        'Invalid configuration: DATABASE_URL: must be a postgres:// or postgresql:// URL',
      ],
      [
        { DATABASE_URL: 'http://example.com' },
        'Invalid configuration: DATABASE_URL: must be a postgres:// or postgresql:// URL',
      ],
      [
        { DATABASE_CONNECT_TIMEOUT_MS: '5s' },
        'Invalid configuration: DATABASE_CONNECT_TIMEOUT_MS: must be a whole number from 1000 to 3600000',
      ],
    ])('should refuse %p with exactly the line %p', async (env, line) => {
      const result = await failedStart({ DATA_DIR: dataDir, ...env });

      expect(result.code).toBe(1);
      expect(lines(result.stderr)).toEqual([line]);
    });

    it('should refuse a PORT in use with one line naming it, and let DATA_DIR go', async () => {
      const holder = createServer();
      const port = await listen(holder);
      try {
        const result = await failedStart({ DATA_DIR: dataDir, PORT: String(port) });

        expect(result.code).toBe(1);
        expect(lines(result.stderr)).toEqual([`PORT ${port} is already in use: stop what holds it or set PORT`]);
        expect(existsSync(join(dataDir, 'db.lock'))).toBe(false);
      } finally {
        await close(holder);
      }
    });

    it('should refuse a database server that turns the connection down, at once, without the password', async () => {
      const password = `pw-${randomUUID()}`;
      const url = new URL(process.env.TEST_PG_URL!);
      url.password = password;
      url.pathname = '/missing_db';
      const started = performance.now();

      const result = await failedStart({ DATA_DIR: dataDir, DATABASE_URL: url.toString() });

      expect(result.code).toBe(1);
      expect(lines(result.stderr)).toEqual([
        `DATABASE_URL: the database at ${url.host} refused the connection (3D000: database "missing_db" does not exist); create the database or fix its name in DATABASE_URL`,
      ]);
      expect(result.stderr).not.toContain(password);
      expect(performance.now() - started).toBeLessThan(10_000); // not the 60 s of waiting for a server to come up
    });

    it('should give up on a database that stays unreachable after DATABASE_CONNECT_TIMEOUT_MS, with one line', async () => {
      const port = await unusedPort();
      const password = `pw-${randomUUID()}`;
      const started = performance.now();

      const result = await failedStart({
        DATA_DIR: dataDir,
        DATABASE_URL: `postgres://chat:${password}@127.0.0.1:${port}/chat`,
        DATABASE_CONNECT_TIMEOUT_MS: '3000',
      });

      const elapsedMs = performance.now() - started;
      expect(result.code).toBe(1);
      expect(lines(result.stderr)).toEqual([
        expect.stringMatching(
          new RegExp(
            `^DATABASE_URL: cannot reach the database at 127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\) after ([3-9]|\\d\\d) attempts over 3 s; check it is up and reachable$`,
          ),
        ),
      ]);
      expect(result.stderr).not.toContain(password);
      expect(elapsedMs).toBeGreaterThanOrEqual(3000);
      expect(elapsedMs).toBeLessThan(3000 + 8000);
    });

    describe('a database server that is not up yet', () => {
      let pg: PostgresServer;

      beforeEach(async () => {
        pg = await startPostgresServer();
      });

      afterEach(() => pg.stop());

      it('should be waited for, each attempt logged, and the server ready once it is up', async () => {
        await pg.stopImmediately();
        // The port of a database still starting: the app's first attempt arrives here and is dropped.
        const starting = createServer((socket: Socket) => socket.destroy());
        await listen(starting, pg.port, '127.0.0.1');
        const firstAttempt = once(starting, 'connection');

        const app = start({ DATA_DIR: dataDir, DATABASE_URL: pg.url, DATABASE_CONNECT_TIMEOUT_MS: '60000' });
        await Promise.race([
          firstAttempt,
          app.then(() => {
            throw new Error('the server started without trying the database');
          }),
        ]);
        await close(starting);
        await pg.restart();
        const server = await app;

        const ready = await new HttpClient(server.url).get('/health/ready');
        expect(ready.status).toBe(200);
        expect(ready.body).toMatchObject({ info: { database: { status: 'up', driver: 'postgres' } } });
        const retries = server.lines.filter((l) => l.msg === 'database not reachable yet, retrying');
        expect(retries.length).toBeGreaterThanOrEqual(1);
        retries.forEach((line, i) =>
          expect(line).toMatchObject({
            level: 40,
            attempt: i + 1,
            delayMs: expect.any(Number),
            reason: expect.any(String),
            database: `127.0.0.1:${pg.port}`,
          }),
        );
        const messages = server.lines.map((l) => l.msg);
        expect(messages.indexOf('database ready')).toBeGreaterThan(
          messages.lastIndexOf('database not reachable yet, retrying'),
        );
      });
    });
  });

  describe('group commit as configured, in the database ready line', () => {
    let pg: PostgresServer;

    beforeAll(async () => {
      pg = await startPostgresServer();
    });

    afterAll(() => pg.stop());

    const ready = (server: ServerProcess) => server.lines.find((l) => l.msg === 'database ready');

    it('should run the sends of a Postgres server in DATABASE_GROUP_LANES lanes, one by default', async () => {
      const lanes = await start({ DATA_DIR: dataDir, DATABASE_URL: pg.url, DATABASE_GROUP_LANES: '3' });
      expect(ready(lanes)).toMatchObject({ driver: 'postgres', groupCommit: { maxSize: 50, lanes: 3 } });
      await lanes.stop('SIGTERM');

      const byDefault = await start({ DATA_DIR: dataDir, DATABASE_URL: pg.url });
      expect(ready(byDefault)).toMatchObject({ driver: 'postgres', groupCommit: { maxSize: 50, lanes: 1 } });
    });

    it('should keep one lane on the embedded engine, whatever DATABASE_GROUP_LANES says', async () => {
      const server = await start({ DATA_DIR: dataDir, DATABASE_GROUP_LANES: '3' });

      expect(ready(server)).toMatchObject({ driver: 'pglite', groupCommit: { maxSize: 100, lanes: 1 } });
    });
  });
});
