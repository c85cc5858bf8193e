/**
 * `npm run bench [-- flags]`: starts the app and a bare Socket.IO relay on loopback, drives both at once with the same
 * load generator (a child process each), prints a table and writes bench/results/<timestamp>.json. See
 * bench/README.md.
 *
 * Flags (defaults in brackets):
 *   --rooms N            rooms in the chat load [4]
 *   --members N          members per room, each one socket [5]
 *   --rate N             offered sends/s of the fixed-rate phase, and the first step of the search [100]
 *   --duration S         seconds of each repeat of the fixed-rate phase [15]
 *   --warmup S           seconds of the uncounted warm-up before the fixed-rate phase's repeats [5]
 *   --repeats N          repeats of the fixed-rate and cluster phases and of the engine phase's measurements [3]
 *   --cluster-rate N     offered sends/s on each side of the cluster phase [--rate]
 *   --idle N             idle authenticated sockets for the memory figure [2000]
 *   --db embedded|postgres   the app's database: embedded PGlite in DATA_DIR, or a PostgreSQL server started for
 *                        the run from /usr/lib/postgresql [embedded]
 *   --unsafe             the PostgreSQL server without fsync, full_page_writes and synchronous_commit (it is durable
 *                        by default)
 *   --no-search          skip the rate search (same as leaving `search` out of --only)
 *   --search-seconds S   seconds per rate-search step [5]
 *   --ai-rooms N         rooms replying with AI at once [10]
 *   --history-big N      messages in the big history room; the small one holds 1,000 [1000000]
 *   --only LIST          comma-separated phases to run, in this order: engine,idle,rate,floor,search,ai,history,cluster,
 *                        noisy
 *                        [all]
 *   --engine-sends N     sends per measurement of the engine phase [3000]
 *   --noisy-slice S      seconds per slice of the noisy phase [2]
 *   --noisy-pairs N      off/on slice pairs per flood kind in the noisy phase [3]
 *   --noisy-kinds LIST   flood kinds of the noisy phase: none,join,leave,aistop,typing,send,binary,deep [all]
 *   --app-root DIR       the checkout whose build (DIR/dist/main.js) is the app, e.g. a `git worktree` of an older
 *                        commit [this checkout]
 *   --out FILE           where the results' JSON goes [bench/results/<start time>.json]
 *
 * Phases: engine: the database driver alone (bench/engine-phase.ts), one transaction per send vs group commit;
 * idle (5) memory per idle socket; rate (1)(3)(4) the app and the relay at one offered rate at the same time, after a
 * warm-up, repeated, with each process's event-loop delay and CPU per thread (bench/paired.ts); floor: the database
 * alone at that rate beside the relay, the bounds of the rate phase's ratios (bench/floor-phase.ts); search (2) the highest
 * rate with p99 ack < 50 ms, a failing step run twice, the app's, the relay's and the database alone's steps taking
 * turns, the database's group commit (100 in flight) measured between the app's (bench/rate-search.ts); ai (6) the AI relay;
 * history (7) room:join afterSeq / GET beforeSeq on rooms of 1,000 and --history-big messages. With the embedded
 * database the history rows are written while the app is stopped (PGlite opens a data dir from one process only),
 * then the app is started again on the same DATA_DIR. cluster (9): one instance against two sharing Redis under the
 * same load at once, CPU per message of each process (bench/cluster-phase.ts). noisy (8): a well-behaved client's
 * latency while one abusive client floods each kind of socket event (bench/noisy-phase.ts), on an app of its own with
 * the default limits.
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { ServerResponse } from 'node:http';
import * as os from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { PGlite } from '@electric-sql/pglite';
import { Client } from 'pg';
import { startFakeOpenAi, type FakeOpenAi } from '../test/support/fake-openai';
import { HIGH_RATE_LIMITS } from '../test/support/cluster';
import { createDatabase } from '../test/support/postgres-server';
import { runClusterPhase } from './cluster-phase';
import { EngineChild, runEnginePhase } from './engine-phase';
import { runFloorPhase } from './floor-phase';
import { appSendCounters, readEventLoop } from './metrics';
import { FLOOD_KINDS, NOISY_RATE_ENV, runNoisyPhase, type FloodKind } from './noisy-phase';
import { runPaired, type PairedSide } from './paired';
import { startBenchPostgres, type BenchPostgres } from './postgres';
import { printTable } from './report';
import { writeResults } from './results-file';
import { nodeProcessProbe, postgresProbe } from './proc-cpu';
import { paceStepRunner, searchRate, stepRunner, takingTurns } from './rate-search';
import { nowMs, round } from './stats';
import { createRoom, register, startTarget, type Target, type User } from './targets';

const ROOT = join(__dirname, '..', '..', '..');
const DIST = join(__dirname);
/** Every limit raised (the test suites' set), so that no phase but `noisy` meets one. */
const RATE_ENV = HIGH_RATE_LIMITS;
const STAMP = '@@STAMP@@';
const PHASES = ['engine', 'idle', 'rate', 'floor', 'search', 'ai', 'history', 'cluster', 'noisy'] as const;
type Phase = (typeof PHASES)[number];
/** The small history room; the big one holds --history-big. */
const HISTORY_SMALL = 1000;
/** Rows per INSERT statement when filling a history room. */
const HISTORY_BATCH = 100_000;
/** Sends in flight in the engine phase's concurrent and grouped measurements. */
const ENGINE_WINDOW = 100;

interface Flags {
  rooms: number;
  members: number;
  rate: number;
  duration: number;
  warmup: number;
  repeats: number;
  /** Offered sends/s of the cluster phase; --rate when not given. */
  clusterRate?: number;
  idle: number;
  db: 'embedded' | 'postgres';
  /** The PostgreSQL server without fsync and synchronous commit (the first round's settings). */
  unsafe: boolean;
  /** The PostgreSQL server tracks every statement, nested ones too (pg_stat_statements); printed after `rate`. */
  pgStatements: boolean;
  search: boolean;
  searchSeconds: number;
  aiRooms: number;
  historyBig: number;
  engineSends: number;
  noisySlice: number;
  noisyPairs: number;
  noisyKinds: FloodKind[];
  appRoot: string;
  /** The results' JSON file; undefined: bench/results/<start time>.json. */
  out?: string;
  /** Where the app and the relay write V8 CPU profiles (`--cpu-prof`), one per thread; undefined: not profiled. */
  profileDir?: string;
  /** Node options for the app's process (`--trace-gc`, `--max-semi-space-size=32`, ...). */
  appNodeOptions: string[];
  phases: Set<Phase>;
}

function parseFlags(argv: string[]): Flags {
  const flags: Flags = {
    rooms: 4,
    members: 5,
    rate: 100,
    duration: 15,
    warmup: 5,
    repeats: 3,
    idle: 2000,
    db: 'embedded',
    unsafe: false,
    pgStatements: false,
    search: true,
    searchSeconds: 5,
    aiRooms: 10,
    historyBig: 1_000_000,
    engineSends: 3000,
    noisySlice: 2,
    noisyPairs: 3,
    noisyKinds: [...FLOOD_KINDS],
    appRoot: ROOT,
    appNodeOptions: [],
    phases: new Set(PHASES),
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
      case '--warmup':
        flags.warmup = int(1, 600);
        break;
      case '--repeats':
        flags.repeats = int(1, 20);
        break;
      case '--cluster-rate':
        flags.clusterRate = int(1, 100_000);
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
      case '--unsafe':
        flags.unsafe = true;
        break;
      case '--pg-statements':
        flags.pgStatements = true;
        break;
      case '--no-search':
        flags.search = false;
        break;
      case '--only': {
        const names = value().split(',');
        const unknown = names.filter((n) => !(PHASES as readonly string[]).includes(n));
        if (unknown.length > 0 || names.length === 0) {
          throw new Error(`--only takes a comma-separated list of ${PHASES.join(',')}`);
        }
        flags.phases = new Set(names as Phase[]);
        break;
      }
      case '--search-seconds':
        flags.searchSeconds = int(1, 60);
        break;
      case '--ai-rooms':
        flags.aiRooms = int(1, 100);
        break;
      case '--history-big':
        flags.historyBig = int(1000, 10_000_000);
        break;
      case '--engine-sends':
        flags.engineSends = int(100, 1_000_000);
        break;
      case '--noisy-slice': {
        const n = Number(value());
        if (!(n >= 0.5 && n <= 60)) {
          throw new Error('--noisy-slice takes seconds from 0.5 to 60');
        }
        flags.noisySlice = n;
        break;
      }
      case '--noisy-pairs':
        flags.noisyPairs = int(1, 20);
        break;
      case '--noisy-kinds': {
        const names = value().split(',');
        const unknown = names.filter((n) => !(FLOOD_KINDS as readonly string[]).includes(n));
        if (unknown.length > 0 || names.length === 0) {
          throw new Error(`--noisy-kinds takes a comma-separated list of ${FLOOD_KINDS.join(',')}`);
        }
        flags.noisyKinds = names as FloodKind[];
        break;
      }
      case '--app-root':
        flags.appRoot = resolve(value());
        break;
      case '--out':
        flags.out = resolve(value());
        break;
      case '--profile':
        flags.profileDir = resolve(value());
        break;
      case '--app-node-option':
        flags.appNodeOptions.push(value());
        break;
      default:
        throw new Error(`unknown flag ${name}`);
    }
  }
  if (!flags.search) {
    flags.phases.delete('search');
  }
  return flags;
}

/**
 * A target's start for the fixed-rate phases: the app with `--app-node-option`s; with `--profile DIR`, a CPU profile
 * per thread in `DIR/<target>/` (written at exit) and the target's output after it listens in `DIR/<target>.log`.
 */
async function startProfiled(
  flags: Flags,
  target: 'app' | 'relay',
  script: string,
  env: Record<string, string>,
  cwd: string,
) {
  const dir = flags.profileDir;
  const args = [
    ...(target === 'app' ? flags.appNodeOptions : []),
    ...(dir ? ['--cpu-prof', `--cpu-prof-dir=${join(dir, target)}`] : []),
    script,
  ];
  if (dir) {
    mkdirSync(dir, { recursive: true });
  }
  return startTarget(target, args, env, cwd, dir ? join(dir, `${target}.log`) : undefined);
}

async function sqlOnce(url: string, sql: string): Promise<Record<string, unknown>[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql)).rows;
  } finally {
    await client.end();
  }
}

/**
 * The bench database's statements by total execution time over the fixed-rate phase (warm-up included), per acked
 * send: a function's own statements are counted on their own line and again within the statement that called it.
 */
async function statementsPerSend(url: string, sends: number): Promise<Record<string, unknown>[]> {
  const rows = await sqlOnce(
    url,
    `select toplevel, calls, total_exec_time, rows, regexp_replace(query, '\\s+', ' ', 'g') as query
       from pg_stat_statements where dbid = (select oid from pg_database where datname = current_database())
      order by total_exec_time desc limit 25`,
  );
  const out = rows.map((r) => ({
    usPerSend: Math.round((Number(r.total_exec_time) * 1000) / sends),
    callsPerSend: Math.round((Number(r.calls) / sends) * 100) / 100,
    toplevel: r.toplevel,
    query: String(r.query).slice(0, 160),
  }));
  console.log(`\nPostgreSQL statements over the rate phase (${sends} sends), µs per send [calls per send], nested: ·`);
  for (const r of out) {
    console.log(
      `${String(r.usPerSend).padStart(7)} µs [${r.callsPerSend}] ${r.toplevel ? ' ' : '·'} ${r.query.slice(0, 120)}`,
    );
  }
  return out;
}

/** Runs bench/load.js with a config; resolves with its JSON result line. */
async function runLoad(cfg: Record<string, unknown>, timeoutMs: number, script = 'load.js'): Promise<any> {
  const child = spawn(process.execPath, [join(DIST, script), JSON.stringify(cfg)], {
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
    throw new Error(`${script} (${String(cfg.mode ?? cfg.db)}) exited with ${String(code)}: ${err.slice(-2000)}`);
  }
  return JSON.parse(out.trim().split('\n').pop() ?? '{}');
}

function rssKb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmRSS:'));
  return Number(line?.replace(/\D+/g, '') ?? NaN);
}

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

/** Anything with pg's `query(text, values)`: a pg Client or a PGlite. */
interface Queryable {
  query(text: string, values?: unknown[]): Promise<unknown>;
}

/**
 * Fills a room with `count` messages, seq and rev 1..count without gaps (each message's rev is that of its one
 * change, its creation, as for every message that was never changed), and sets the room's last_seq and last_rev to
 * match, and the sender's read pointer to the last message, as the trigger of a send does (what you wrote, you have
 * read): left at 0, the sender's unread count, which room:join answers with the room, walked past every message
 * (its own do not count) — 500 ms per join in a room of 1,000,000 on the embedded engine, a state no send leaves.
 * The replica role skips the triggers (the seq trigger; foreign keys too), so it needs a superuser, which both
 * the test server's `postgres` and PGlite's single user are.
 */
async function fillHistory(db: Queryable, roomId: string, senderId: string, count: number): Promise<void> {
  await db.query('begin');
  try {
    await db.query("set local session_replication_role = 'replica'");
    for (let from = 1; from <= count; from += HISTORY_BATCH) {
      await db.query(
        `insert into public.messages (chatroom_id, seq, rev, role, sender_id, content, client_id)
         select $1::uuid, g, g, 'user', $2::uuid, 'history ' || g, 'h' || g from generate_series($3::int, $4::int) g`,
        [roomId, senderId, from, Math.min(count, from + HISTORY_BATCH - 1)],
      );
    }
    await db.query('update public.chatrooms set last_seq = $2, last_rev = $2 where id = $1', [roomId, count]);
    await db.query('update public.room_reads set last_read_seq = $3 where chatroom_id = $1 and profile_id = $2', [
      roomId,
      senderId,
      count,
    ]);
    await db.query('commit');
  } catch (err) {
    await db.query('rollback').catch(() => undefined);
    throw err;
  }
}

/** Which build is measured: the checkout's commit, and its changed files under src/ and migrations/ (not committed). */
function buildFacts(appRoot: string): Record<string, unknown> {
  const git = (...args: string[]): string | null => {
    try {
      return execFileSync('git', ['-C', appRoot, ...args], { encoding: 'utf8' }).trim();
    } catch {
      return null;
    }
  };
  const changed = git('status', '--porcelain', '--', 'src', 'migrations');
  return {
    appRoot,
    commit: git('rev-parse', '--short', 'HEAD'),
    subject: git('log', '-1', '--format=%s')?.slice(0, 120) ?? null,
    uncommittedFiles: changed === null ? null : changed.split('\n').filter((l) => l.length > 0).length,
  };
}

function machineFacts(): Record<string, unknown> {
  const cpus = os.cpus();
  let openFilesLimit: number | null = null;
  try {
    openFilesLimit = Number(execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim());
  } catch {
    // no sh; left null
  }
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model ?? 'unknown',
    cpuMHz: cpus[0]?.speed ?? null,
    totalMemMiB: Math.round(os.totalmem() / 2 ** 20),
    node: process.version,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    loadAvgAtStart: os.loadavg().map((l) => round(l, 2)),
    /** /proc/pressure/cpu at start: share of time some task waited for a core (10 s, 60 s, 300 s averages). */
    cpuPressureAtStart: (() => {
      try {
        return readFileSync('/proc/pressure/cpu', 'utf8').split('\n')[0];
      } catch {
        return null;
      }
    })(),
    openFilesLimit,
  };
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

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2));
  const has = (p: Phase): boolean => flags.phases.has(p);
  const startedAt = new Date();
  const cleanups: (() => Promise<unknown>)[] = [];
  const phaseSeconds: Record<string, number> = {};
  const results: Record<string, any> = {
    startedAt: startedAt.toISOString(),
    machine: machineFacts(),
    flags: { ...flags, phases: PHASES.filter(has) },
    env: RATE_ENV,
    build: buildFacts(flags.appRoot),
    phaseSeconds,
    app: {},
    relay: {},
    notes: [],
  };
  const phase = async (name: string, fn: () => Promise<void>): Promise<void> => {
    const t = nowMs();
    try {
      await fn();
    } finally {
      phaseSeconds[name] = round((nowMs() - t) / 1000, 1);
    }
  };
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
    const m = results.machine;
    console.log(
      `bench: machine: ${m.cpus} x ${m.cpuModel}, ${m.totalMemMiB} MiB, node ${m.node}, load avg ${m.loadAvgAtStart.join(' ')}, ulimit -n ${m.openFilesLimit}`,
    );
    console.log(
      `bench: rate limits raised for the run: ${Object.entries(RATE_ENV)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ')}`,
    );
    console.log(
      `bench: ${flags.rooms} rooms x ${flags.members} members, ${flags.rate} msgs/s for ${flags.duration} s, db=${flags.db}, phases ${results.flags.phases.join(',')}`,
    );

    let app!: Target;
    let baseline: Target | undefined;
    let fake!: FakeOpenAi;
    let appEnv!: Record<string, string>;
    let dataDir!: string;
    let pg: BenchPostgres | undefined;
    let dbUrl: string | undefined;
    await phase('setup', async () => {
      stampFakeWrites();
      fake = await startFakeOpenAi();
      cleanups.push(() => fake.close());
      fake.setDefault({
        kind: 'stream',
        chunks: Array.from({ length: 20 }, (_, i) => `<t:${STAMP}>${i} `),
        delayMs: 20,
      });

      dataDir = mkdtempSync(join(os.tmpdir(), 'bench-data-'));
      const dir = dataDir;
      cleanups.push(() => Promise.resolve(rmSync(dir, { recursive: true, force: true })));
      appEnv = {
        ...RATE_ENV,
        DATA_DIR: dataDir,
        // Fixed for the run, so tokens stay valid when the app is restarted for the history phase.
        LOCAL_JWT_SECRET: randomBytes(32).toString('base64url'),
        OPENAI_API_KEY: 'bench-key',
        OPENAI_BASE_URL: fake.url,
      };
      if (flags.db === 'postgres') {
        const server = await startBenchPostgres(!flags.unsafe, flags.pgStatements);
        pg = server;
        cleanups.push(() => server.stop());
        results.postgres = { durable: !flags.unsafe, settings: server.settings };
        console.log(`bench: PostgreSQL ${flags.unsafe ? 'UNSAFE' : 'durable'}: ${JSON.stringify(server.settings)}`);
        dbUrl = await createDatabase(server.url, 'bench');
        appEnv.DATABASE_URL = dbUrl;
        if (flags.pgStatements) {
          await sqlOnce(dbUrl, 'create extension if not exists pg_stat_statements');
        }
      }
      // The noisy and cluster phases start apps of their own.
      if (PHASES.some((p) => p !== 'noisy' && p !== 'cluster' && has(p))) {
        app = await startProfiled(flags, 'app', 'dist/main.js', appEnv, flags.appRoot);
        // `app` is replaced when the history phase restarts it: stop whichever is current.
        cleanups.push(() => app.stop());
      }
      if (has('idle') || has('rate') || has('search')) {
        const b = await startProfiled(flags, 'relay', join(DIST, 'baseline-relay.js'), {}, ROOT);
        baseline = b;
        cleanups.push(() => b.stop());
      }
      if (app) {
        console.log(
          `bench: app on ${app.url} (pid ${app.child.pid})${baseline ? `, baseline on ${baseline.url} (pid ${baseline.child.pid})` : ''}`,
        );
      }
    });
    const targets = baseline ? [baseline, app] : [];

    // Accounts and rooms (the app); the baseline takes any token.
    let users: User[] = [];
    const appRooms: { id: string; tokens: string[] }[] = [];
    if (targets.length > 0) {
      await phase('accounts', async () => {
        users = await register(app.url, flags.rooms * flags.members, 'c');
        for (let r = 0; r < flags.rooms; r++) {
          const members = users.slice(r * flags.members, (r + 1) * flags.members);
          appRooms.push({
            id: await createRoom(app.url, members[0], members.slice(1), 'off'),
            tokens: members.map((mm) => mm.token),
          });
        }
      });
    }
    const baseRooms = appRooms.map((r, i) => ({ id: `room-${i}`, tokens: r.tokens.map((_, j) => `user-${i}-${j}`) }));

    // The database alone: the engine's raw rate of one transaction per send, and with group commit. Its process
    // stays up for the search, which measures group commit again between the app's steps.
    let engine: EngineChild | undefined;
    if (has('engine') || has('floor') || has('search')) {
      await phase('engine', async () => {
        const e = await EngineChild.start({
          db: flags.db,
          url: pg ? await createDatabase(pg.url, 'bench_engine') : undefined,
          dist: join(flags.appRoot, 'dist'),
        });
        engine = e;
        cleanups.push(() => e.close());
        if (has('engine')) {
          console.log(
            `bench: the ${flags.db} database alone: ${flags.engineSends} sends each way, ${flags.repeats} repeats`,
          );
          results.engine = await runEnginePhase(e, {
            db: flags.db,
            sends: flags.engineSends,
            window: ENGINE_WINDOW,
            repeats: flags.repeats,
          });
        }
      });
    }

    // (5) memory per idle authenticated socket, first (before the load churns the heaps).
    if (has('idle')) {
      await phase('idle', async () => {
        for (const target of targets) {
          console.log(`bench: ${target.name}: ${flags.idle} idle sockets`);
          const tokens = target === app ? users.map((u) => u.token) : ['idle-user'];
          results[target.name].idle = await idleMemory(target, tokens, flags.idle);
        }
      });
    }

    // (1)(3)(4) the app and the relay at the same offered rate at the same time, after a warm-up, repeated.
    const appSide = (): PairedSide => ({
      name: 'app',
      url: app.url,
      rooms: appRooms,
      cpu: [
        nodeProcessProbe(app.child.pid!, flags.db === 'embedded' ? 'engine' : undefined),
        ...(pg ? [postgresProbe(pg.pid(), 'bench')] : []),
      ],
      eventLoop: () => readEventLoop(app.url, 'app'),
      counters: () => appSendCounters(app.url),
    });
    const relaySide = (relay: Target): PairedSide => ({
      name: 'relay',
      url: relay.url,
      rooms: baseRooms,
      cpu: [nodeProcessProbe(relay.child.pid!)],
      eventLoop: () => readEventLoop(relay.url, 'relay'),
    });
    if (has('rate') && baseline) {
      const relay = baseline;
      await phase('rate', async () => {
        if (flags.pgStatements && dbUrl) {
          await sqlOnce(dbUrl, 'select pg_stat_statements_reset()');
        }
        results.rate = await runPaired([appSide(), relaySide(relay)], {
          rate: flags.rate,
          durationS: flags.duration,
          warmupS: flags.warmup,
          repeats: flags.repeats,
          label: 'app and relay at once',
        });
        if (flags.pgStatements && dbUrl) {
          const r = results.rate;
          const sends = [r.warmup, ...r.repeats].reduce((n, run) => n + Number(run.app.chat.acked), 0);
          results.pgStatements = await statementsPerSend(dbUrl, sends);
        }
      });
    }

    // The database alone at the same rate, beside the relay: the bounds no change to the app can beat.
    if (has('floor') && baseline && engine) {
      const relay = baseline;
      const e = engine;
      await phase('floor', async () => {
        results.floor = await runFloorPhase(e, relaySide(relay), {
          db: flags.db,
          rate: flags.rate,
          durationS: flags.duration,
          warmupS: flags.warmup,
          repeats: flags.repeats,
        });
      });
    }

    // (2) rate search, the app's and the relay's steps taking turns; the database alone between the app's steps.
    if (has('search') && baseline) {
      const relay = baseline;
      await phase('search', async () => {
        const turn = takingTurns();
        const engineRate = engine
          ? async () => (await engine!.measure('callGrouped', ENGINE_WINDOW, flags.engineSends)).perSecond
          : undefined;
        // The database alone searched too, by the app's criterion (p99 < 50 ms), its steps taking turns with theirs.
        const [a, b, d] = await Promise.all([
          searchRate(flags.rate, stepRunner(appSide(), flags.searchSeconds, turn, engineRate)),
          searchRate(flags.rate, stepRunner(relaySide(relay), flags.searchSeconds, turn)),
          engine
            ? searchRate(
                flags.rate,
                paceStepRunner((rate, s) => engine!.pace(rate, s), flags.searchSeconds, turn),
              )
            : undefined,
        ]);
        results.search = { app: a, relay: b, ...(d ? { database: d } : {}) };
        // The database alone is not measured after this: free its process for the phases that follow.
        await engine?.close();
      });
    }

    // (6) AI relay (the app only): N rooms with ai.mode always, one message each at once.
    if (has('ai')) {
      await phase('ai', async () => {
        // Two paces: tokens further apart than the 30 ms coalescing window go out as they come (the relay's own
        // latency); tokens closer together are coalesced (at most one delta per 30 ms per reply).
        results.app.ai = {};
        for (const [key, delayMs] of [
          ['spaced', 40],
          ['dense', 10],
        ] as const) {
          console.log(`bench: app: AI relay in ${flags.aiRooms} rooms at once, tokens ${delayMs} ms apart`);
          fake.setDefault({
            kind: 'stream',
            chunks: Array.from({ length: 20 }, (_, i) => `<t:${STAMP}>${i} `),
            delayMs,
          });
          const aiOwners = await register(app.url, flags.aiRooms, `a${key}`);
          const aiRooms = [];
          for (const owner of aiOwners) {
            aiRooms.push({ id: await createRoom(app.url, owner, [], 'always'), tokens: [owner.token] });
          }
          results.app.ai[key] = {
            tokenIntervalMs: delayMs,
            ...(await runLoad({ mode: 'ai', url: app.url, rooms: aiRooms, timeoutMs: 30_000 }, 90_000)),
          };
        }
      });
    }

    // (7) history latency on a small and a big room, rows written directly with SQL. Last: with the embedded
    // database it stops and restarts the app.
    if (has('history')) {
      const history: Record<string, any> = { sizes: [HISTORY_SMALL, flags.historyBig], insertMs: {} };
      results.app.history = history;
      const owner = (await register(app.url, 1, 'h'))[0];
      const rooms: { count: number; roomId: string }[] = [];
      for (const count of [HISTORY_SMALL, flags.historyBig]) {
        rooms.push({ count, roomId: await createRoom(app.url, owner, [], 'off') });
      }
      const fill = async (db: Queryable): Promise<void> => {
        for (const { count, roomId } of rooms) {
          console.log(`bench: app: filling a history room with ${count} messages`);
          const t = nowMs();
          await fillHistory(db, roomId, owner.id, count);
          history.insertMs[String(count)] = round(nowMs() - t, 0);
        }
        const t = nowMs();
        await db.query('analyze public.messages');
        history.analyzeMs = round(nowMs() - t, 0);
      };
      await phase('historyInsert', async () => {
        if (pg && dbUrl) {
          const client = new Client({ connectionString: dbUrl });
          await client.connect();
          try {
            await fill(client);
          } finally {
            await client.end();
          }
          return;
        }
        console.log('bench: app: stopping the app to write into its embedded database');
        const t = nowMs();
        const exit = await app.stop();
        history.appStopMs = round(nowMs() - t, 0);
        if (exit.code !== 0) {
          throw new Error(`the app did not exit cleanly on SIGTERM (code ${exit.code}, signal ${exit.signal})`);
        }
        const db = await PGlite.create(join(dataDir, 'db', 'pgdata'));
        try {
          await fill(db);
        } finally {
          await db.close();
        }
        const t2 = nowMs();
        app = await startTarget('app', ['dist/main.js'], appEnv, flags.appRoot);
        history.appRestartMs = round(nowMs() - t2, 0);
        console.log(`bench: app restarted on ${app.url} (pid ${app.child.pid})`);
      });
      await phase('historySample', async () => {
        console.log(
          `bench: app: history samples, rooms of ${rooms.map((r) => r.count).join(' and ')} messages in turn`,
        );
        const r = await runLoad(
          {
            mode: 'history',
            url: app.url,
            token: owner.token,
            rooms: rooms.map(({ roomId, count }) => ({ roomId, lastSeq: count })),
            samples: 200,
            warmup: 10,
          },
          180_000,
        );
        for (const h of r.rooms) {
          history[String(h.lastSeq)] = h;
        }
      });
    }

    // (9) the cost of scale-out: one instance against two sharing Redis, the same load at once. It needs a
    // PostgreSQL server: the run's, or one of its own.
    if (has('cluster')) {
      await phase('cluster', async () => {
        let server = pg;
        if (!server) {
          server = await startBenchPostgres(!flags.unsafe);
          const s = server;
          cleanups.push(() => s.stop());
          results.postgres = { durable: !flags.unsafe, settings: s.settings, for: 'cluster' };
        }
        results.cluster = await runClusterPhase({
          pg: server,
          env: appEnv,
          appRoot: flags.appRoot,
          rooms: flags.rooms,
          members: flags.members,
          rate: flags.clusterRate ?? flags.rate,
          durationS: flags.duration,
          warmupS: flags.warmup,
          repeats: flags.repeats,
          idle: flags.idle,
        });
      });
    }

    // (8) noisy neighbour: an app of its own (fresh data, the default limits but NOISY_RATE_ENV), one abusive and
    // one well-behaved client. Last, so no other phase's app is busy meanwhile.
    if (has('noisy')) {
      await phase('noisy', async () => {
        const env: Record<string, string> = { ...appEnv, ...NOISY_RATE_ENV };
        for (const k of Object.keys(RATE_ENV)) {
          if (!(k in NOISY_RATE_ENV)) {
            delete env[k];
          }
        }
        const noisyDir = mkdtempSync(join(os.tmpdir(), 'bench-noisy-'));
        env.DATA_DIR = noisyDir;
        if (pg) {
          env.DATABASE_URL = await createDatabase(pg.url, 'bench_noisy');
        }
        const noisyApp = await startTarget('app', ['dist/main.js'], env, flags.appRoot);
        console.log(
          `bench: noisy: app on ${noisyApp.url} (pid ${noisyApp.child.pid}), limits: app defaults but ${Object.entries(
            NOISY_RATE_ENV,
          )
            .map(([k, v]) => `${k}=${v}`)
            .join(' ')}`,
        );
        try {
          results.app.noisy = await runNoisyPhase({
            url: noisyApp.url,
            sliceSeconds: flags.noisySlice,
            pairs: flags.noisyPairs,
            kinds: flags.noisyKinds,
            register: async (count) => {
              const users = await register(noisyApp.url, count, 'n');
              return Promise.all(
                users.map(async (u) => ({ token: u.token, roomId: await createRoom(noisyApp.url, u, [], 'off') })),
              );
            },
          });
        } finally {
          const exit = await noisyApp.stop();
          rmSync(noisyDir, { recursive: true, force: true });
          if (exit.code !== 0) {
            results.notes.push(`the noisy phase's app exited with code ${exit.code} signal ${exit.signal}`);
          }
        }
      });
    }
  } finally {
    const t = nowMs();
    for (const c of cleanups.reverse()) {
      await c().catch((err: unknown) => process.stderr.write(`bench: cleanup failed: ${String(err)}\n`));
    }
    phaseSeconds.teardown = round((nowMs() - t) / 1000, 1);
  }

  printTable(results);
  writeResults(results, startedAt, { out: flags.out });
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
