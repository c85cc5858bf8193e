/**
 * A drain on one instance (README "Deploy"): SIGTERM under a socket send load and REST clients on keep-alive
 * connections. Readiness turns 503 at once and everything is still served for SHUTDOWN_DRAIN_MS; keep-alive
 * connections are told `Connection: close`; then sockets close, and the process exits 0 within its budget.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, get, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { createAiRoom, gate } from './support/ai-helpers';
import { HIGH_RATE_LIMITS } from './support/cluster';
import { startFakeOpenAi, type FakeOpenAi } from './support/fake-openai';
import { eventually } from './support/eventually';
import { signIn, signUp } from './support/http-client';
import { addMembers, createRoom, range, storedMessages } from './support/realtime-helpers';
import { ResumingClient } from './support/resuming-client';
import { startServerProcess, type ServerProcess } from './support/server-process';

const DRAIN_MS = 1500;
const TIMEOUT_MS = 8000;

interface Answer {
  /** Date.now() when the request was sent, and when it was answered or failed. */
  sentAt: number;
  at: number;
  status?: number;
  connection?: string;
  error?: string;
}

/** One GET; never rejects: a refused or reset request is an answer with `error`. */
function request(url: string, agent: Agent | false, token?: string): Promise<Answer> {
  const sentAt = Date.now();
  return new Promise((resolve) => {
    const req = get(
      url,
      { agent, headers: token ? { authorization: `Bearer ${token}` } : {} },
      (res: IncomingMessage) => {
        res.resume();
        res.on('end', () =>
          resolve({ sentAt, at: Date.now(), status: res.statusCode, connection: res.headers.connection }),
        );
      },
    );
    req.on('error', (error: NodeJS.ErrnoException) =>
      resolve({ sentAt, at: Date.now(), error: error.code ?? error.message }),
    );
  });
}

describe('drain on SIGTERM (one instance)', () => {
  let dataDir: string;
  let server: ServerProcess | undefined;
  let fake: FakeOpenAi;
  const clients: ResumingClient[] = [];

  beforeAll(async () => {
    fake = await startFakeOpenAi();
  });

  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'chat-drain-'));
  });

  afterEach(async () => {
    clients.splice(0).forEach((client) => client.close());
    await server?.stop('SIGKILL');
    await rm(dataDir, { recursive: true, force: true });
  });

  afterAll(() => fake?.close());

  it('should store a reply still streaming at the end of the budget as it stands, failed / AI_FAILED, and exit 0', async () => {
    const env = {
      DATA_DIR: dataDir,
      OPENAI_API_KEY: 'test-key',
      OPENAI_BASE_URL: fake.url,
      SHUTDOWN_DRAIN_MS: '0',
      SHUTDOWN_TIMEOUT_MS: '2000',
    };
    server = await startServerProcess(env);
    const owner = await signUp(server.url, 'drn');
    const room = await createAiRoom(owner, { mode: 'always' });
    const client = await ResumingClient.open(server.url, owner.token, [room.id]);
    clients.push(client);
    const never = gate();
    fake.script({ kind: 'gate', chunks: ['The first half', ' and the rest'], release: never.release });
    await client.send(room.id, 'tell me', 'q-1');
    await eventually(() => client.rooms.get(room.id)?.get(2)?.content === 'The first half', 'first half streamed');

    const signalledAt = Date.now();
    const { code } = await server.stop('SIGTERM');

    expect(code).toBe(0);
    expect(Date.now() - signalledAt).toBeLessThan(2000);
    server = await startServerProcess(env);
    const stored = await storedMessages(await signIn(server.url, owner), room.id);
    expect(stored.map((m) => [m.seq, m.role, m.status, m.content, m.error?.code])).toEqual([
      [1, 'user', 'complete', 'tell me', undefined],
      [2, 'assistant', 'failed', 'The first half', 'AI_FAILED'],
    ]);
    expect(stored[1].error.message).toBe('The server stopped while this reply was being written');
    never.open();
  });

  it('should hold readiness 503 for the drain delay before refusing anything, close keep-alive connections, and exit 0', async () => {
    const env = {
      DATA_DIR: dataDir,
      ...HIGH_RATE_LIMITS,
      SHUTDOWN_DRAIN_MS: String(DRAIN_MS),
      SHUTDOWN_TIMEOUT_MS: String(TIMEOUT_MS),
    };
    server = await startServerProcess(env);
    const { url } = server;
    const owner = await signUp(url, 'drn');
    const members = await Promise.all([signUp(url, 'drn'), signUp(url, 'drn')]);
    const room = await createRoom(owner);
    await addMembers(owner, room.id, ...members);
    for (const user of [owner, ...members]) {
      clients.push(await ResumingClient.open(url, user.token, [room.id]));
    }

    let running = true;
    // Socket senders; their sends in flight at the end are left (nothing acks them: the server is gone).
    clients.forEach((client, i) => {
      void (async () => {
        for (let n = 0; running; n += 1) {
          await client.send(room.id, `s${i}-${n}`, `s${i}-${n}`);
          await delay(40);
        }
      })();
    });
    // REST clients, each on one keep-alive connection, back to back; and a readiness probe on fresh connections.
    const rest: Answer[][] = [[], []];
    const agents = rest.map(() => new Agent({ keepAlive: true, maxSockets: 1 }));
    const restLoops = rest.map(async (answers, i) => {
      while (running) {
        const answer = await request(`${url}/api/rooms`, agents[i], owner.token);
        answers.push(answer);
        if (answer.error) {
          return;
        }
      }
    });
    const probes: Answer[] = [];
    const probing = (async () => {
      while (running) {
        const answer = await request(`${url}/health/ready`, false);
        probes.push(answer);
        if (answer.error) {
          return;
        }
        await delay(25);
      }
    })();
    await eventually(() => clients.every((c) => c.acked.size >= 5) && rest.every((a) => a.length >= 5), 'load');

    const signalledAt = Date.now();
    const { code } = await server.stop('SIGTERM');
    const exitedAfter = Date.now() - signalledAt;
    running = false;
    await Promise.all([...restLoops, probing]);
    agents.forEach((agent) => agent.destroy());

    expect(code).toBe(0);
    expect(exitedAfter).toBeLessThan(DRAIN_MS + TIMEOUT_MS);
    const refuseAt = signalledAt + DRAIN_MS;
    // Readiness: 503 soon after the signal, and from then on 503 (never 200, never refused) for the drain delay.
    const after = probes.filter((p) => p.sentAt > signalledAt);
    const first503 = after.find((p) => p.status === 503);
    expect(first503).toBeDefined();
    expect(first503!.at - signalledAt).toBeLessThan(500);
    const held = after.filter((p) => p.sentAt >= first503!.sentAt && p.at < refuseAt);
    expect(held.length).toBeGreaterThan(10);
    expect(new Set(held.map((p) => p.status))).toEqual(new Set([503]));
    // Nothing refused before the drain delay ran out: no failed request, no dropped socket.
    const failures = [...probes, ...rest.flat()].filter((a) => a.error);
    expect(failures.filter((a) => a.at < refuseAt)).toEqual([]);
    const drops = clients.flatMap((c) => c.disconnects.map((d) => d.at));
    expect(drops).toHaveLength(clients.length);
    expect(Math.min(...drops)).toBeGreaterThanOrEqual(refuseAt);
    // Keep-alive clients were served during the drain, each answer with `Connection: close` once it began.
    const drained = rest.flat().filter((a) => a.sentAt > first503!.at && a.status !== undefined);
    expect(drained.length).toBeGreaterThan(0);
    expect(new Set(drained.map((a) => [a.status, a.connection].join(' ')))).toEqual(new Set(['200 close']));
    expect(server.lines.map((line) => line.msg)).toEqual(
      expect.arrayContaining(['shutting down', 'draining: sockets closed', 'drained', 'database closed']),
    );
    expect(server.lines.some((line) => line.msg === 'shutdown took too long, exiting')).toBe(false);

    // Every send acked OK before or during the drain is stored (the next start reads them).
    clients.forEach((client) => client.close());
    server = await startServerProcess(env);
    const stored = await storedMessages(await signIn(server.url, owner), room.id);
    expect(stored.map((m) => m.seq)).toEqual(range(1, stored.length));
    const storedIds = new Set(stored.map((m) => m.clientId));
    const acked = clients.flatMap((c) => [...c.acked.keys()]);
    expect(acked.length).toBeGreaterThan(15);
    expect(acked.filter((clientId) => !storedIds.has(clientId))).toEqual([]);
  }, 60_000);
});
