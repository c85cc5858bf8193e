/**
 * The database going away under load, with the server running as a process (`node dist/main.js`): on a PostgreSQL
 * server this test starts and stops itself (`pg_ctl stop -m immediate` while sends are in flight), and in Supabase mode
 * (the PostgREST stand-in taken away). The process stays up, readiness turns 503, sends get an `UNAVAILABLE` ack at
 * once, and once the database is back everything works again with nothing acknowledged lost. Also the time bound of a
 * database call (DATABASE_CALL_TIMEOUT_MS), through the process and on the embedded engine.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket as TcpSocket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import type { Socket } from 'socket.io-client';
import { SERVICE_ACTOR } from '../src/modules/persistence/database.port';
import { startEmbeddedDatabase } from '../src/modules/persistence/drivers/embedded.database';
import { PgDatabase } from '../src/modules/persistence/drivers/pg.database';
import { runMigrations } from '../src/modules/persistence/migration-runner';
import { storedMessages } from './support/chat-api';
import { signUp, type TestUser } from './support/http-client';
import { createDatabase, startPostgresServer, type PostgresServer } from './support/postgres-server';
import { startPostgrestStandIn, type PostgrestStandIn } from './support/postgrest-standin';
import { expectErrorAck } from './support/realtime-helpers';
import { createRoom } from './support/rooms-helpers';
import { startServerProcess, type ServerProcess } from './support/server-process';
import { ack, connectSocket } from './support/socket-client';
import { newJwtSecret, startSupabaseAuth, type SupabaseAuth } from './support/supabase-auth';
import { forgetMinter, registerMinter } from './support/test-backend';

const HIGH_LIMITS = { RATE_HTTP_PER_MINUTE: '100000', RATE_SEND_PER_10S: '100000', RATE_AUTH_PER_MINUTE: '1000' };
/** Short, so the time bound is seen quickly; far above what any call takes on a live database. */
const CALL_TIMEOUT_MS = 1000;
/** Sockets sending at once, each one send after the other. */
const SENDERS = 4;
/** Each sender stops after this many sends, whatever happens (the test then fails: a phase did not finish). */
const MAX_SENDS_PER_SENDER = 4000;
/** How many acks of each kind a phase waits for. */
const ACKS_PER_PHASE = 20;
/** The longest a readiness flip or a recovery may take before the test gives up. */
const PHASE_LIMIT_MS = 10_000;

describe('a database outage (the server as a process)', () => {
  describe('on a PostgreSQL server (DATABASE_URL)', () => {
    let pg: PostgresServer;
    let dataDir: string;
    let server: ServerProcess;

    beforeAll(async () => {
      // Crash-safe: an acknowledged commit must outlive `pg_ctl stop -m immediate`, or this test could not tell.
      pg = await startPostgresServer({ crashSafe: true });
      dataDir = await mkdtemp(join(tmpdir(), 'chat-outage-'));
      server = await startServerProcess({
        DATA_DIR: dataDir,
        DATABASE_URL: pg.url,
        DATABASE_CALL_TIMEOUT_MS: String(CALL_TIMEOUT_MS),
        ...HIGH_LIMITS,
      });
    });

    afterAll(async () => {
      await server?.stop('SIGKILL');
      await pg?.stop();
      await rm(dataDir, { recursive: true, force: true });
    });

    it('should stay up through `pg_ctl stop -m immediate` in the middle of sends, answer UNAVAILABLE and 503 while it is down, recover once it is back, and lose no acknowledged send', async () => {
      await expectOutageSurvived(server, {
        takeAway: () => pg.stopImmediately(),
        bringBack: () => pg.restart(),
      });
    });

    it('should fail a call that outlasts DATABASE_CALL_TIMEOUT_MS with UNAVAILABLE, store nothing of it, and serve the next call', async () => {
      const alice = await signUp(server.url, 'alice');
      const room = await newRoom(alice);
      const socket = await connectSocket(server.url, alice.token);
      // A session holding the room's row lock (say, a stuck maintenance job): a send waits on it.
      const holder = new Client({ connectionString: pg.url });
      await holder.connect();
      try {
        await holder.query('begin');
        await holder.query('select 1 from public.chatrooms where id = $1 for update', [room]);
        const stuck = await sendTimingOut(server, socket, room);
        expect(stuck.error.message).toMatch(/in time/);
        await holder.query('rollback');

        const next = await ack(socket, 'message:send', { roomId: room, content: 'after', clientId: 's2' });
        expect(next).toMatchObject({ ok: true, duplicate: false, message: { seq: 1, content: 'after' } });
        expect((await storedMessages(alice, room)).map((m) => m.clientId)).toEqual(['s2']);
      } finally {
        socket.close();
        await holder.end();
      }
    });
  });

  describe('on Supabase (SUPABASE_URL: the PostgREST stand-in)', () => {
    let auth: SupabaseAuth;
    let standIn: PostgrestStandIn;
    let proxy: TcpProxy;
    let dataDir: string;
    let server: ServerProcess;

    beforeAll(async () => {
      const databaseUrl = await createDatabase(testPgUrl());
      const migrator = new PgDatabase('postgres', { connectionString: databaseUrl, max: 1 });
      try {
        await runMigrations(migrator);
      } finally {
        await migrator.close();
      }
      auth = await startSupabaseAuth();
      standIn = await startPostgrestStandIn({ databaseUrl, jwtSecret: newJwtSecret(), auth });
      // The project as the app knows it: the proxy's origin, which the test can take away and bring back.
      proxy = await startTcpProxy(new URL(standIn.url).port);
      auth.setIssuerBase(proxy.url);
      dataDir = await mkdtemp(join(tmpdir(), 'chat-outage-'));
      server = await startServerProcess({
        DATA_DIR: dataDir,
        SUPABASE_URL: proxy.url,
        SUPABASE_ANON_KEY: standIn.anonKey,
        SUPABASE_SERVICE_ROLE_KEY: standIn.serviceRoleKey,
        DATABASE_CALL_TIMEOUT_MS: String(CALL_TIMEOUT_MS),
        ...HIGH_LIMITS,
      });
      registerMinter(server.url, (username) =>
        auth.mintToken({ email: `${username}@example.test`, userMetadata: { username } }),
      );
    });

    afterAll(async () => {
      if (server) {
        forgetMinter(server.url);
        await server.stop('SIGKILL');
      }
      await proxy?.close();
      await standIn?.close();
      await auth?.close();
      await rm(dataDir, { recursive: true, force: true });
    });

    it('should stay up while PostgREST is gone, answer UNAVAILABLE and 503, and recover once it is back, losing no acknowledged send', async () => {
      await expectOutageSurvived(server, {
        takeAway: () => proxy.cut(),
        bringBack: () => proxy.restore(),
      });
    });

    it('should fail a call PostgREST does not answer within DATABASE_CALL_TIMEOUT_MS with UNAVAILABLE', async () => {
      const alice = await signUp(server.url, 'alice');
      const room = await newRoom(alice);
      const socket = await connectSocket(server.url, alice.token);
      try {
        proxy.stall();
        await sendTimingOut(server, socket, room);
        expect((await readiness(server)).status).toBe(503);
        await proxy.restore();

        const next = await ack(socket, 'message:send', { roomId: room, content: 'after', clientId: 's2' });
        expect(next).toMatchObject({ ok: true, message: { content: 'after' } });
        expect((await readiness(server)).status).toBe(200);
      } finally {
        socket.close();
        await proxy.restore();
      }
    });
  });
});

describe('the drivers under a slow or lost connection', () => {
  /** A function that takes as long as it is told: a call past any time limit one likes. */
  const NAP = `create function public.nap(p_seconds float8) returns void language sql as 'select pg_sleep(p_seconds)';
    grant execute on function public.nap(float8) to service_role`;

  describe('on a PostgreSQL server', () => {
    let url: string;
    let admin: Client;
    const opened: PgDatabase[] = [];

    /** A driver on the test database with this call time limit and one connection, so a test sees which it is. */
    const open = (callTimeoutMs?: number) => {
      const db = new PgDatabase('postgres', { connectionString: url, max: 1 }, undefined, undefined, callTimeoutMs);
      opened.push(db);
      return db;
    };
    const backendPid = async (db: PgDatabase) =>
      (await db.query<{ pid: number }>('select pg_backend_pid() as pid'))[0].pid;

    beforeAll(async () => {
      url = await createDatabase(testPgUrl());
      const migrator = open();
      await runMigrations(migrator);
      await migrator.query(NAP);
      admin = new Client({ connectionString: url });
      await admin.connect();
    });

    afterAll(async () => {
      await Promise.all(opened.map((db) => db.close()));
      await admin?.end();
    });

    it('should have the server cancel a call past its time, fail it with UNAVAILABLE, and keep the connection', async () => {
      const db = open(300);
      const pid = await backendPid(db);

      const started = performance.now();
      await expect(db.call(SERVICE_ACTOR, 'nap', { p_seconds: 5 })).rejects.toMatchObject({
        code: 'UNAVAILABLE',
        message: expect.stringMatching(/in time/),
      });
      expect(performance.now() - started).toBeGreaterThanOrEqual(250);
      expect(performance.now() - started).toBeLessThan(1000);

      await expect(db.call(SERVICE_ACTOR, 'ping')).resolves.toEqual([{ ping: 1 }]);
      expect(await backendPid(db)).toBe(pid);
    });

    it('should fail a call whose connection is cut with UNAVAILABLE, not end the process, and serve the next call on a new one', async () => {
      const db = open();
      const pid = await backendPid(db);
      const napping = db.call(SERVICE_ACTOR, 'nap', { p_seconds: 30 });
      // pg_stat_activity shows the nap once it runs; nothing tells it sooner.
      let running = false;
      for (let attempt = 0; !running && attempt < 1000; attempt++) {
        const { rows } = await admin.query(
          `select 1 from pg_stat_activity where pid = $1 and query like '%public.nap(%'`,
          [pid],
        );
        running = rows.length > 0;
      }
      expect(running).toBe(true);
      await admin.query('select pg_terminate_backend($1)', [pid]);

      await expect(napping).rejects.toMatchObject({ code: 'UNAVAILABLE' });
      await expect(db.call(SERVICE_ACTOR, 'ping')).resolves.toEqual([{ ping: 1 }]);
      expect(await backendPid(db)).not.toBe(pid);
    });

    it('should fail a ping that gets no answer at its time, not later (readiness stays within its bound), and answer the next on a new connection', async () => {
      const db = open();
      const pid = await backendPid(db);
      // A backend that hangs (as behind a cut network): it takes the query and never answers.
      process.kill(pid, 'SIGSTOP');
      try {
        const started = performance.now();
        await expect(db.ping(300)).rejects.toThrow('the database did not answer within 300 ms');
        expect(performance.now() - started).toBeLessThan(800);
      } finally {
        process.kill(pid, 'SIGCONT');
      }

      await expect(db.ping(1000)).resolves.toBeUndefined();
      expect(await backendPid(db)).not.toBe(pid);
    });
  });

  describe('on the embedded engine (which cannot cancel a query)', () => {
    let dataDir: string;
    let db: PgDatabase;

    beforeAll(async () => {
      dataDir = await mkdtemp(join(tmpdir(), 'chat-outage-'));
      db = await startEmbeddedDatabase(dataDir, { callTimeoutMs: 300 });
      await runMigrations(db);
      await db.query(NAP);
    });

    afterAll(async () => {
      await db?.close();
      await rm(dataDir, { recursive: true, force: true });
    });

    it('should fail a call past its time with UNAVAILABLE at that time, and serve calls again once the engine is free', async () => {
      const started = performance.now();
      await expect(db.call(SERVICE_ACTOR, 'nap', { p_seconds: 1.5 })).rejects.toMatchObject({
        code: 'UNAVAILABLE',
        message: expect.stringMatching(/in time/),
      });
      expect(performance.now() - started).toBeLessThan(1000);

      // The engine finishes the nap on its own (its connection was replaced); until then a call waits its time too.
      let answered: unknown;
      for (let attempt = 0; answered === undefined && attempt < 20; attempt++) {
        answered = await db.call(SERVICE_ACTOR, 'ping').catch(() => undefined);
      }
      expect(answered).toEqual([{ ping: 1 }]);
      expect(performance.now() - started).toBeLessThan(1500 + 2000);
    });
  });
});

/** One send over a socket and what became of it. */
interface Sent {
  clientId: string;
  content: string;
  emittedAt: number;
  ackedAt?: number;
  /** The ack; undefined when none came within 10 s (or the socket closed first). */
  ack?: any;
}

/**
 * Every socket sends into the room, one send after the other, until stopped (or MAX_SENDS_PER_SENDER each). `until`
 * resolves once enough acks of a kind arrived: the test drives its phases on those events.
 */
class SendLoops {
  readonly sent: Sent[] = [];
  private stopping = false;
  private readonly waiters: { done: () => boolean; resolve: () => void }[] = [];
  private readonly finished: Promise<void>;

  constructor(sockets: Socket[], roomId: string) {
    this.finished = Promise.all(sockets.map((socket, s) => this.loop(socket, roomId, `c${s}`))).then(() => undefined);
  }

  /** Resolves once `count` sends that `match` were acknowledged, rejects if the loops end first. */
  until(count: number, match: (sent: Sent) => boolean, what: string): Promise<void> {
    const reached = new Promise<void>((resolve) => {
      this.waiters.push({
        done: () => this.sent.filter((s) => s.ackedAt !== undefined && match(s)).length >= count,
        resolve,
      });
      this.check();
    });
    const ended = this.finished.then(() => {
      throw new Error(`the send loops ended before ${count} ${what}`);
    });
    return Promise.race([reached, ended]);
  }

  stop(): Promise<void> {
    this.stopping = true;
    return this.finished;
  }

  private async loop(socket: Socket, roomId: string, prefix: string): Promise<void> {
    for (let i = 0; i < MAX_SENDS_PER_SENDER && !this.stopping; i++) {
      const sent: Sent = { clientId: `${prefix}-${i}`, content: `${prefix} #${i}`, emittedAt: performance.now() };
      this.sent.push(sent);
      sent.ack = await ack(socket, 'message:send', { roomId, content: sent.content, clientId: sent.clientId }).catch(
        () => undefined,
      );
      sent.ackedAt = performance.now();
      this.check();
    }
  }

  private check(): void {
    for (const waiter of [...this.waiters]) {
      if (waiter.done()) {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    }
  }
}

const isOk = (sent: Sent) => sent.ack?.ok === true;
const isUnavailable = (sent: Sent) => sent.ack?.ok === false && sent.ack.error?.code === 'UNAVAILABLE';

/**
 * The outage scenario: sends run on SENDERS sockets; once some are stored, the database is taken away, and brought back
 * once sends fail; asserts what users see at each step and that every acknowledged send is stored exactly once.
 */
async function expectOutageSurvived(
  server: ServerProcess,
  database: { takeAway(): Promise<void>; bringBack(): Promise<void> },
): Promise<void> {
  const alice = await signUp(server.url, 'alice');
  const room = await newRoom(alice);
  const sockets = await Promise.all(Array.from({ length: SENDERS }, () => connectSocket(server.url, alice.token)));
  const loops = new SendLoops(sockets, room);
  try {
    await alive(server, loops.until(ACKS_PER_PHASE, isOk, 'stored sends'));

    await alive(server, database.takeAway());
    const gone = performance.now();
    const readinessFlipMs = await alive(server, readinessBecomes(server, 503));
    await alive(
      server,
      loops.until(ACKS_PER_PHASE, (s) => s.emittedAt >= gone && isUnavailable(s), 'refused sends'),
    );

    const comingBack = performance.now();
    await alive(server, database.bringBack());
    const back = performance.now();
    const recoveryMs = await alive(server, readinessBecomes(server, 200));
    await alive(
      server,
      loops.until(ACKS_PER_PHASE, (s) => s.emittedAt >= back && isOk(s), 'sends after the recovery'),
    );
    await loops.stop();
    expect(server.child.exitCode).toBeNull();

    // Every send was answered, ok or UNAVAILABLE; none sent while the database was gone was ok.
    const { sent } = loops;
    expect(sent.filter((s) => !isOk(s) && !isUnavailable(s)).map((s) => s.ack ?? 'no ack')).toEqual([]);
    sent.filter(isUnavailable).forEach((s) => expectErrorAck(s.ack, 'UNAVAILABLE'));
    const duringOutage = sent.filter((s) => s.emittedAt >= gone && s.ackedAt! <= comingBack);
    expect(duringOutage.filter(isOk)).toEqual([]);
    // An UNAVAILABLE comes before the call timeout could have run out: nothing waits for a database that is gone
    // (the bound is the timeout, not a latency: a loaded machine answers in 5–530 ms here).
    const ackLatencies = duringOutage.map((s) => s.ackedAt! - s.emittedAt).sort((a, b) => a - b);
    expect(ackLatencies.at(-1)).toBeLessThan(CALL_TIMEOUT_MS);
    expect(readinessFlipMs).toBeLessThan(1000);
    expect(recoveryMs).toBeLessThan(2000);

    // Every acknowledged send is stored once, as it was acknowledged; nothing stored is half-written.
    const stored = await storedMessages(alice, room);
    const byClientId = new Map(stored.map((m) => [m.clientId as string, m]));
    expect(byClientId.size).toBe(stored.length);
    const acknowledged = sent.filter(isOk);
    expect(acknowledged.filter((s) => byClientId.get(s.clientId)?.id !== s.ack.message.id)).toEqual([]);
    const contentOf = new Map(sent.map((s) => [s.clientId, s.content]));
    expect(stored.filter((m) => contentOf.get(m.clientId) !== m.content)).toEqual([]);
    expect(stored.map((m) => m.seq)).toEqual(stored.map((_, i) => i + 1));
  } finally {
    await loops.stop();
    sockets.forEach((socket) => socket.close());
  }
}

async function newRoom(owner: TestUser): Promise<string> {
  return ((await createRoom(owner, { name: 'outage' })) as { id: string }).id;
}

/**
 * A send that the database does not answer in time: asserts it is answered UNAVAILABLE at DATABASE_CALL_TIMEOUT_MS
 * (with the server still up) and gives the ack.
 */
async function sendTimingOut(server: ServerProcess, socket: Socket, roomId: string): Promise<any> {
  const started = performance.now();
  const stuck = await alive(server, ack(socket, 'message:send', { roomId, content: 'stuck', clientId: 's1' }));
  const waitedMs = performance.now() - started;
  expectErrorAck(stuck, 'UNAVAILABLE');
  expect(waitedMs).toBeGreaterThanOrEqual(CALL_TIMEOUT_MS * 0.9);
  expect(waitedMs).toBeLessThan(CALL_TIMEOUT_MS + 1000);
  return stuck;
}

/** `work`, unless the server process exits first: then the test fails with how it exited and what it said. */
function alive<T>(server: ServerProcess, work: Promise<T>): Promise<T> {
  let onExit: (() => void) | undefined;
  const exited = new Promise<never>((_, reject) => {
    onExit = () =>
      reject(
        new Error(
          `the server exited (code ${server.child.exitCode}, signal ${server.child.signalCode}):\n${server.stderr.slice(-20).join('\n')}`,
        ),
      );
    if (server.child.exitCode !== null || server.child.signalCode !== null) {
      onExit();
    } else {
      server.child.once('exit', onExit);
    }
  });
  return Promise.race([work, exited]).finally(() => server.child.off('exit', onExit!));
}

async function readiness(server: ServerProcess): Promise<{ status: number }> {
  const res = await fetch(`${server.url}/health/ready`);
  await res.arrayBuffer();
  return { status: res.status };
}

/** Asks /health/ready until it answers `status`; resolves with how long that took (no event tells it sooner). */
async function readinessBecomes(server: ServerProcess, status: number): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < PHASE_LIMIT_MS) {
    if ((await readiness(server)).status === status) {
      return performance.now() - started;
    }
  }
  throw new Error(`/health/ready did not answer ${status} within ${PHASE_LIMIT_MS} ms`);
}

function testPgUrl(): string {
  const url = process.env.TEST_PG_URL;
  if (!url) {
    throw new Error('TEST_PG_URL is not set: is test/global-setup.ts configured as jest globalSetup?');
  }
  return url;
}

/** A TCP proxy in front of a local port, which a test can take away and bring back on the same port. */
interface TcpProxy {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** Gone: the port closed and every connection dropped, as when the service behind it dies. */
  cut(): Promise<void>;
  /** Up, but answering nothing: new connections are taken and never forwarded (a hung service). */
  stall(): void;
  /** Forwarding again on the same port. */
  restore(): Promise<void>;
  close(): Promise<void>;
}

async function startTcpProxy(targetPort: string): Promise<TcpProxy> {
  const connections = new Set<TcpSocket>();
  let stalled = false;
  const track = (socket: TcpSocket) => {
    connections.add(socket);
    socket.on('close', () => connections.delete(socket));
    socket.on('error', () => socket.destroy());
  };
  const listen = (port: number) =>
    new Promise<Server>((resolve, reject) => {
      const server = createServer((client) => {
        track(client);
        if (stalled) {
          return;
        }
        const upstream = connect(Number(targetPort), '127.0.0.1');
        track(upstream);
        client.pipe(upstream).pipe(client);
      });
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve(server));
    });
  let server: Server | undefined = await listen(0);
  const port = (server.address() as { port: number }).port;
  const dropAll = () => connections.forEach((socket) => socket.destroy());
  const cut = async () => {
    const closing = server;
    server = undefined;
    if (closing) {
      await new Promise<void>((resolve) => {
        closing.close(() => resolve());
        dropAll();
      });
    }
    dropAll();
  };
  return {
    url: `http://127.0.0.1:${port}`,
    cut,
    stall() {
      stalled = true;
      dropAll();
    },
    async restore() {
      stalled = false;
      dropAll();
      server ??= await listen(port);
    },
    close: cut,
  };
}
