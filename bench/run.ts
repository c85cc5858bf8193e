/**
 * `npm run bench`: starts the app and a bare Socket.IO relay on loopback, drives both with the same load generator
 * (a child process), prints a table and writes bench/results/<timestamp>.json. See bench/README.md.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Client } from 'pg';
import { startFakeOpenAi, type FakeOpenAi } from '../test/support/fake-openai';
import { createDatabase, startPostgresServer, type PostgresServer } from '../test/support/postgres-server';
import { nowMs, round, summarize } from './stats';

const ROOT = join(__dirname, '..', '..', '..');
const DIST = join(__dirname);
const RATE_ENV = {
  RATE_HTTP_PER_MINUTE: '1000000',
  RATE_AUTH_PER_MINUTE: '1000000',
  RATE_SEND_PER_10S: '1000000',
  RATE_TYPING_PER_10S: '1000000',
  RATE_AI_PER_MINUTE: '1000000',
};
const STAMP = '@@STAMP@@';

interface Flags {
  rooms: number;
  members: number;
  rate: number;
  duration: number;
  idle: number;
  db: 'embedded' | 'postgres';
  search: boolean;
  searchSeconds: number;
  aiRooms: number;
  historyBig: number;
}

function parseFlags(argv: string[]): Flags {
  const flags: Flags = {
    rooms: 4,
    members: 5,
    rate: 100,
    duration: 15,
    idle: 500,
    db: 'embedded',
    search: true,
    searchSeconds: 5,
    aiRooms: 5,
    historyBig: 100_000,
  };
  for (let i = 0; i < argv.length; i++) {
    const [name, inline] = argv[i].split('=', 2);
    const value = (): string => inline ?? argv[++i];
    const int = (min: number, max: number): number => {
      const n = Number(value());
      if (!Number.isInteger(n) || n < min || n > max) {
        throw new Error(`${name} takes a whole number in ${min}..${max}`);
      }
      return n;
    };
    switch (name) {
      case '--rooms':
        flags.rooms = int(1, 200);
        break;
      case '--members':
        flags.members = int(2, 100);
        break;
      case '--rate':
        flags.rate = int(1, 100_000);
        break;
      case '--duration':
        flags.duration = int(1, 600);
        break;
      case '--idle':
        flags.idle = int(1, 20_000);
        break;
      case '--db': {
        const db = value();
        if (db !== 'embedded' && db !== 'postgres') {
          throw new Error('--db takes embedded or postgres');
        }
        flags.db = db;
        break;
      }
      case '--no-search':
        flags.search = false;
        break;
      case '--search-seconds':
        flags.searchSeconds = int(1, 60);
        break;
      case '--ai-rooms':
        flags.aiRooms = int(1, 100);
        break;
      case '--history-big':
        flags.historyBig = int(1000, 10_000_000);
        break;
      default:
        throw new Error(`unknown flag ${name}`);
    }
  }
  return flags;
}

interface Target {
  name: 'app' | 'baseline';
  child: ChildProcess;
  url: string;
  stop(): Promise<void>;
}

/** Spawns a node script that prints a JSON line `{ msg: "listening on port N", port }`; drains its output after. */
async function startTarget(name: Target['name'], args: string[], env: Record<string, string>): Promise<Target> {
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stderr: string[] = [];
  createInterface({ input: child.stderr }).on('line', (line) => stderr.length < 200 && stderr.push(line));
  const exited = once(child, 'exit');
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not listen within 60 s`)), 60_000);
    createInterface({ input: child.stdout }).on('line', (line) => {
      try {
        const entry = JSON.parse(line) as { port?: unknown; msg?: unknown };
        if (typeof entry.port === 'number' && String(entry.msg).startsWith('listening on port')) {
          clearTimeout(timer);
          resolve(entry.port);
        }
      } catch {
        // not JSON; ignored
      }
    });
    void exited.then(([code]) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${String(code)} before listening: ${stderr.join('\n')}`));
    });
  });
  return {
    name,
    child,
    url: `http://127.0.0.1:${port}`,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}

/** Runs bench/load.js with a config; resolves with its JSON result line. */
async function runLoad(cfg: Record<string, unknown>, timeoutMs: number): Promise<any> {
  const child = spawn(process.execPath, [join(DIST, 'load.js'), JSON.stringify(cfg)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(timer);
  if (code !== 0) {
    throw new Error(`load (${String(cfg.mode)}) exited with ${String(code)}: ${err.slice(-2000)}`);
  }
  return JSON.parse(out.trim().split('\n').pop() ?? '{}');
}

function rssKb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmRSS:'));
  return Number(line?.replace(/\D+/g, '') ?? NaN);
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Opens N idle authenticated sockets from a load child; RSS of the target before and after, per socket. */
async function idleMemory(target: Target, tokens: string[], n: number): Promise<any> {
  await sleep(3000);
  const before = rssKb(target.child.pid!);
  const child = spawn(
    process.execPath,
    [join(DIST, 'load.js'), JSON.stringify({ mode: 'idle', url: target.url, tokens, n })],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = once(child, 'exit');
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('idle sockets did not connect within 120 s')), 120_000);
      createInterface({ input: child.stdout }).on('line', (line) => {
        if (line.includes('"connected"')) {
          clearTimeout(timer);
          resolve();
        }
      });
      void exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`idle load exited early: ${err.slice(-2000)}`));
      });
    });
    await sleep(2000);
    const after = rssKb(target.child.pid!);
    return { n, rssBeforeKb: before, rssAfterKb: after, kbPerSocket: round((after - before) / n, 2) };
  } finally {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
  }
}

/** Samples GET /health/live every 50 ms until stopped (bounded): an outside-in proxy for event-loop delay. */
function startLiveSampler(url: string, maxMs: number): { stop(): Promise<any> } {
  const latencies: number[] = [];
  let failures = 0;
  let running = true;
  const done = (async () => {
    const until = nowMs() + maxMs;
    while (running && nowMs() < until) {
      const t = nowMs();
      try {
        const res = await fetch(`${url}/health/live`, { signal: AbortSignal.timeout(5000) });
        await res.arrayBuffer();
        latencies.push(nowMs() - t);
      } catch {
        failures++;
      }
      await sleep(Math.max(0, 50 - (nowMs() - t)));
    }
  })();
  return {
    async stop() {
      running = false;
      await done;
      return { ...summarize(latencies), failures };
    },
  };
}

async function api(url: string, path: string, body: unknown, token?: string): Promise<any> {
  const res = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  if (!res.ok) {
    throw new Error(`POST ${path} answered ${res.status}: ${text}`);
  }
  return text ? JSON.parse(text) : {};
}

interface User {
  username: string;
  token: string;
  id: string;
}

async function register(url: string, count: number, tag: string): Promise<User[]> {
  const users: User[] = [];
  for (let i = 0; i < count; i += 10) {
    const batch = Array.from({ length: Math.min(10, count - i) }, (_, j) => `b${tag}_${i + j}`);
    users.push(
      ...(await Promise.all(
        batch.map(async (username) => {
          const r = await api(url, '/api/auth/register', { username, password: 'bench-password' });
          return { username, token: r.accessToken as string, id: r.profile.id as string };
        }),
      )),
    );
  }
  return users;
}

async function createRoom(url: string, owner: User, members: User[], mode: 'off' | 'always'): Promise<string> {
  const room = await api(url, '/api/rooms', { name: `bench ${mode}`, ai: { mode } }, owner.token);
  for (const m of members) {
    await api(url, `/api/rooms/${room.id}/members`, { username: m.username }, owner.token);
  }
  return room.id as string;
}

/** Makes the fake stamp every streamed token with the moment it writes it to the socket. */
function stampFakeWrites(): void {
  const write = ServerResponse.prototype.write as (...args: any[]) => boolean;
  ServerResponse.prototype.write = function (this: ServerResponse, chunk: unknown, ...rest: any[]): boolean {
    if (typeof chunk === 'string' && chunk.includes(STAMP)) {
      chunk = chunk.replaceAll(STAMP, nowMs().toFixed(3));
    }
    return write.call(this, chunk, ...rest);
  } as typeof ServerResponse.prototype.write;
}

function ratio(a: unknown, b: unknown): string {
  return typeof a === 'number' && typeof b === 'number' && b !== 0 ? (a / b).toFixed(2) : '—';
}

function fmt(v: unknown): string {
  if (v === undefined || v === null) {
    return '—';
  }
  return typeof v === 'number' ? String(round(v, 2)) : typeof v === 'string' ? v : JSON.stringify(v);
}

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2));
  const startedAt = new Date();
  const cleanups: (() => Promise<void>)[] = [];
  const results: Record<string, any> = { startedAt: startedAt.toISOString(), flags, env: RATE_ENV, notes: [] };
  const onSignal = (): void => {
    process.stderr.write('bench: interrupted, stopping everything\n');
    void Promise.allSettled(cleanups.reverse().map((c) => c())).then(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const hardStop = setTimeout(() => {
    process.stderr.write('bench: hard time limit (30 min) reached\n');
    onSignal();
  }, 30 * 60_000);
  hardStop.unref();

  try {
    console.log(
      `bench: rate limits raised for the run: ${Object.entries(RATE_ENV)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ')}`,
    );
    console.log(
      `bench: ${flags.rooms} rooms x ${flags.members} members, ${flags.rate} msgs/s for ${flags.duration} s, db=${flags.db}`,
    );

    stampFakeWrites();
    const fake: FakeOpenAi = await startFakeOpenAi();
    cleanups.push(() => fake.close());
    fake.setDefault({
      kind: 'stream',
      chunks: Array.from({ length: 20 }, (_, i) => `<t:${STAMP}>${i} `),
      delayMs: 20,
    });

    const dataDir = mkdtempSync(join(tmpdir(), 'bench-data-'));
    cleanups.push(() => Promise.resolve(rmSync(dataDir, { recursive: true, force: true })));
    const appEnv: Record<string, string> = {
      ...RATE_ENV,
      DATA_DIR: dataDir,
      OPENAI_API_KEY: 'bench-key',
      OPENAI_BASE_URL: fake.url,
    };
    let pg: PostgresServer | undefined;
    let dbUrl: string | undefined;
    if (flags.db === 'postgres') {
      pg = await startPostgresServer();
      const server = pg;
      cleanups.push(() => server.stop());
      dbUrl = await createDatabase(pg.url, 'bench');
      appEnv.DATABASE_URL = dbUrl;
    }

    const app = await startTarget('app', ['dist/main.js'], appEnv);
    cleanups.push(() => app.stop());
    const baseline = await startTarget('baseline', [join(DIST, 'baseline-relay.js')], {});
    cleanups.push(() => baseline.stop());
    console.log(
      `bench: app on ${app.url} (pid ${app.child.pid}), baseline on ${baseline.url} (pid ${baseline.child.pid})`,
    );

    // Accounts and rooms (the app); the baseline takes any token.
    const users = await register(app.url, flags.rooms * flags.members, 'c');
    const appRooms: { id: string; tokens: string[] }[] = [];
    for (let r = 0; r < flags.rooms; r++) {
      const members = users.slice(r * flags.members, (r + 1) * flags.members);
      appRooms.push({
        id: await createRoom(app.url, members[0], members.slice(1), 'off'),
        tokens: members.map((m) => m.token),
      });
    }
    const baseRooms = appRooms.map((r, i) => ({ id: `room-${i}`, tokens: r.tokens.map((_, j) => `user-${i}-${j}`) }));
    const roomsOf = (t: Target) => (t === app ? appRooms : baseRooms);

    // (5) memory per idle authenticated socket, first (before the load churns the heaps).
    for (const target of [baseline, app]) {
      console.log(`bench: ${target.name}: ${flags.idle} idle sockets`);
      const tokens = target === app ? users.map((u) => u.token) : ['idle-user'];
      results[target.name] = { idle: await idleMemory(target, tokens, flags.idle) };
    }

    // (1)(3)(4) fixed offered rate.
    for (const target of [baseline, app]) {
      console.log(`bench: ${target.name}: fixed rate ${flags.rate}/s for ${flags.duration} s`);
      const sampler = startLiveSampler(target.url, (flags.duration + 60) * 1000);
      const chat = await runLoad(
        { mode: 'chat', url: target.url, rooms: roomsOf(target), rate: flags.rate, durationS: flags.duration },
        (flags.duration + 120) * 1000,
      );
      Object.assign(results[target.name], { chat, healthLiveMs: await sampler.stop() });
    }

    // (2) step-up search: doubling the offered rate while p99 ack < 50 ms, nothing lost, and the rate is achieved.
    if (flags.search) {
      for (const target of [baseline, app]) {
        const steps: any[] = [];
        let best: any = null;
        for (let i = 0, rate = flags.rate; i < 8; i++, rate *= 2) {
          console.log(`bench: ${target.name}: search step ${rate}/s for ${flags.searchSeconds} s`);
          const r = await runLoad(
            {
              mode: 'chat',
              url: target.url,
              rooms: roomsOf(target),
              rate,
              durationS: flags.searchSeconds,
              drainMs: 5000,
            },
            (flags.searchSeconds + 60) * 1000,
          );
          const pass =
            r.ackMs.p99 !== null &&
            r.ackMs.p99 < 50 &&
            r.lost === 0 &&
            r.ackErrors + r.ackTimeouts === 0 &&
            r.ackedPerSecond >= 0.95 * rate;
          steps.push({
            rate,
            pass,
            ackP99: r.ackMs.p99,
            ackedPerSecond: r.ackedPerSecond,
            deliveredPerSecond: r.deliveredPerSecond,
            lost: r.lost,
          });
          if (!pass) {
            break;
          }
          best = {
            rate,
            ackedPerSecond: r.ackedPerSecond,
            deliveredPerSecond: r.deliveredPerSecond,
            ackP99: r.ackMs.p99,
          };
        }
        results[target.name].search = { best, steps };
      }
    }

    // (6) AI relay (the app only): N rooms with ai.mode always, one message each at once.
    console.log(`bench: app: AI relay in ${flags.aiRooms} rooms at once`);
    const aiOwners = await register(app.url, flags.aiRooms, 'a');
    const aiRooms = [];
    for (const owner of aiOwners) {
      aiRooms.push({ id: await createRoom(app.url, owner, [], 'always'), tokens: [owner.token] });
    }
    results.app.ai = await runLoad({ mode: 'ai', url: app.url, rooms: aiRooms, timeoutMs: 30_000 }, 90_000);

    // (7) history latency, Postgres mode only (rows inserted directly with SQL).
    if (pg && dbUrl) {
      const histOwner = (await register(app.url, 1, 'h'))[0];
      const history: Record<string, unknown> = {};
      for (const count of [1000, flags.historyBig]) {
        const roomId = await createRoom(app.url, histOwner, [], 'off');
        console.log(`bench: app: history on a room of ${count} messages (inserting)`);
        const client = new Client({ connectionString: dbUrl });
        await client.connect();
        try {
          const t = nowMs();
          await client.query('begin');
          // replica role skips the seq trigger, so seq is given here, gapless 1..count, and last_seq set to match.
          await client.query("set local session_replication_role = 'replica'");
          await client.query(
            `insert into public.messages (chatroom_id, seq, role, sender_id, content, client_id)
             select $1, g, 'user', $2, 'history ' || g, 'h' || g from generate_series(1, $3::int) g`,
            [roomId, histOwner.id, count],
          );
          await client.query('update public.chatrooms set last_seq = $2 where id = $1', [roomId, count]);
          await client.query('commit');
          await client.query('analyze public.messages');
          history[`insertMs_${count}`] = round(nowMs() - t, 0);
        } finally {
          await client.end();
        }
        history[String(count)] = await runLoad(
          { mode: 'history', url: app.url, token: histOwner.token, roomId, lastSeq: count, samples: 50 },
          120_000,
        );
      }
      results.app.history = history;
    } else {
      results.notes.push('history (7) measured only with --db postgres');
    }
  } finally {
    for (const c of cleanups.reverse()) {
      await c().catch((err: unknown) => process.stderr.write(`bench: cleanup failed: ${String(err)}\n`));
    }
  }

  printTable(results);
  const file = join(ROOT, 'bench', 'results', `${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`bench: results written to ${file}`);
}

function printTable(r: Record<string, any>): void {
  const a = r.app ?? {};
  const b = r.baseline ?? {};
  const rows: [string, unknown, unknown][] = [
    ['(1) ack p50 ms', a.chat?.ackMs.p50, b.chat?.ackMs.p50],
    ['(1) ack p95 ms', a.chat?.ackMs.p95, b.chat?.ackMs.p95],
    ['(1) ack p99 ms', a.chat?.ackMs.p99, b.chat?.ackMs.p99],
    ['(1) delivery p50 ms', a.chat?.deliveryMs.p50, b.chat?.deliveryMs.p50],
    ['(1) delivery p99 ms', a.chat?.deliveryMs.p99, b.chat?.deliveryMs.p99],
    ['(1) acked/s at offered rate', a.chat?.ackedPerSecond, b.chat?.ackedPerSecond],
    ['(1) delivered/s at offered rate', a.chat?.deliveredPerSecond, b.chat?.deliveredPerSecond],
    [
      '(1) ack errors + timeouts',
      a.chat && a.chat.ackErrors + a.chat.ackTimeouts,
      b.chat && b.chat.ackErrors + b.chat.ackTimeouts,
    ],
    ['(2) max rate, p99 ack<50ms (step x2)', a.search?.best?.rate, b.search?.best?.rate],
    ['(2) delivered/s there', a.search?.best?.deliveredPerSecond, b.search?.best?.deliveredPerSecond],
    ['(3) lost deliveries', a.chat?.lost, b.chat?.lost],
    ['(3) duplicated deliveries', a.chat?.duplicates, b.chat?.duplicates],
    ['(4) GET /health/live p50 ms (outside-in)', a.healthLiveMs?.p50, b.healthLiveMs?.p50],
    ['(4) GET /health/live p99 ms (outside-in)', a.healthLiveMs?.p99, b.healthLiveMs?.p99],
    [`(5) KiB RSS per idle socket (N=${String(a.idle?.n)})`, a.idle?.kbPerSocket, b.idle?.kbPerSocket],
    ['(6) AI token->delta p50 ms', a.ai?.tokenToDeltaMs.p50, undefined],
    ['(6) AI token->delta p99 ms', a.ai?.tokenToDeltaMs.p99, undefined],
    ['(6) AI deltas per reply (mean)', a.ai?.deltasPerReply.mean, undefined],
  ];
  for (const [size, h] of Object.entries(a.history ?? {})) {
    if (typeof h === 'object' && h) {
      rows.push([
        `(7) room:join afterSeq p50/p99 ms @${size}`,
        `${fmt((h as any).joinAfterSeqMs.p50)}/${fmt((h as any).joinAfterSeqMs.p99)}`,
        undefined,
      ]);
      rows.push([
        `(7) GET beforeSeq p50/p99 ms @${size}`,
        `${fmt((h as any).getBeforeSeqMs.p50)}/${fmt((h as any).getBeforeSeqMs.p99)}`,
        undefined,
      ]);
    }
  }
  const w = Math.max(...rows.map(([n]) => n.length));
  console.log(`\n${'metric'.padEnd(w)} | ${'app'.padStart(12)} | ${'baseline'.padStart(12)} | app/base`);
  console.log(`${'-'.repeat(w)}-+-${'-'.repeat(12)}-+-${'-'.repeat(12)}-+---------`);
  for (const [name, av, bv] of rows) {
    console.log(`${name.padEnd(w)} | ${fmt(av).padStart(12)} | ${fmt(bv).padStart(12)} | ${ratio(av, bv)}`);
  }
  for (const note of r.notes ?? []) {
    console.log(`note: ${String(note)}`);
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
