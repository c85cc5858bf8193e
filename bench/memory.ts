/**
 * `node bench/dist/bench/memory.js [flags]` (after `nest build` and `tsc -p bench/tsconfig.json`): the server's
 * resident memory at a first start (fresh DATA_DIR, or a fresh database), at a restart (the same again) and idle,
 * repeated; prints medians with their spread and writes bench/results/memory-<start time>.json. See bench/README.md.
 *
 * Each start spawns `node dist/main.js` and reads `/proc/<pid>/status` every --interval ms: VmRSS, and VmHWM (the
 * kernel's own high-water mark, so no peak between two samples is missed). Figures: `peak` is VmHWM when
 * `/health/ready` first answers 200, `ready` the RSS then, `idle N s` the RSS N seconds after ready. The embedded
 * engine is a worker thread of the same process, so its memory is in the figures; with --db postgres the server's
 * own processes are not. A first start's initdb is a process the server starts (pglite.worker.js): `initdb peak` is
 * its VmHWM as last read, and `peak with children` the highest sampled sum of the server's RSS and its children's
 * (what a container's memory limit counts; sampled, so a peak between two samples can be missed).
 *
 * Flags (defaults in brackets):
 *   --db embedded|postgres  the embedded engine in DATA_DIR, or a PostgreSQL server (one is started for the run
 *                          from /usr/lib/postgresql unless --database-url is given) [embedded]
 *   --database-url URL      a PostgreSQL server on which each run creates (and drops) its own database
 *   --runs N                first start + restart pairs [3]
 *   --idle S,S…             idle marks after ready, seconds [30,60]
 *   --interval MS           sampling interval [100]
 *   --no-ai                 no OPENAI_API_KEY: the AI provider stays unconfigured (by default it is configured, as
 *                          in `npm run bench`; nothing is asked of it while idle)
 *   --env NAME=VALUE        more environment for the server, repeatable (e.g. NODE_OPTIONS=…, GLIBC_TUNABLES=…)
 *   --breakdown             the server's mappings by class (memory-probe.ts) at its highest sample while starting,
 *                          read from outside; and, preloading memory-probe.js, its heap and mappings at each idle mark
 *   --app-root DIR          the checkout whose dist/main.js is started [this checkout]
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { Client } from 'pg';
import { createDatabase, startPostgresServer, type PostgresServer } from '../test/support/postgres-server';
import { mappingClasses } from './memory-probe';
import { writeResults } from './results-file';
import { formatSpread } from './paired';
import { nowMs, round, spread, type Spread } from './stats';

const ROOT = join(__dirname, '..', '..', '..');
const PROBE = join(__dirname, 'memory-probe.js');
const READY_TIMEOUT_MS = 120_000;
const KIND = ['first', 'restart'] as const;
type Kind = (typeof KIND)[number];

interface Flags {
  db: 'embedded' | 'postgres';
  databaseUrl?: string;
  runs: number;
  idle: number[];
  intervalMs: number;
  ai: boolean;
  env: Record<string, string>;
  breakdown: boolean;
  appRoot: string;
}

function parseFlags(argv: string[]): Flags {
  const flags: Flags = {
    db: 'embedded',
    runs: 3,
    idle: [30, 60],
    intervalMs: 100,
    ai: true,
    env: {},
    breakdown: false,
    appRoot: ROOT,
  };
  for (let i = 0; i < argv.length; i++) {
    const [name, inline] = argv[i].split(/=(.*)/s, 2);
    const value = (): string => inline ?? argv[++i];
    const int = (min: number, max: number, text = value()): number => {
      const n = Number(text);
      if (!Number.isInteger(n) || n < min || n > max) {
        throw new Error(`${name} takes whole numbers in ${min}..${max}`);
      }
      return n;
    };
    const oneOf = <T extends string>(choices: readonly T[]): T => {
      const v = value();
      if (!(choices as readonly string[]).includes(v)) {
        throw new Error(`${name} takes ${choices.join(' or ')}`);
      }
      return v as T;
    };
    switch (name) {
      case '--db':
        flags.db = oneOf(['embedded', 'postgres'] as const);
        break;
      case '--database-url':
        flags.databaseUrl = value();
        flags.db = 'postgres';
        break;
      case '--runs':
        flags.runs = int(1, 50);
        break;
      case '--idle':
        flags.idle = value()
          .split(',')
          .map((s) => int(0, 3600, s))
          .sort((a, b) => a - b);
        break;
      case '--interval':
        flags.intervalMs = int(10, 10_000);
        break;
      case '--no-ai':
        flags.ai = false;
        break;
      case '--env': {
        const [key, val] = value().split(/=(.*)/s, 2);
        if (!key || val === undefined) {
          throw new Error('--env takes NAME=VALUE');
        }
        flags.env[key] = val;
        break;
      }
      case '--breakdown':
        flags.breakdown = true;
        break;
      case '--app-root':
        flags.appRoot = resolve(value());
        break;
      default:
        throw new Error(`unknown flag ${name} (see the head of bench/memory.ts)`);
    }
  }
  return flags;
}

interface Status {
  rssKb: number;
  hwmKb: number;
}

/** The pids of `pid`'s children (every thread's, from /proc), [] when it is gone. */
function childrenOf(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((tid) =>
      readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(' ').filter(Boolean).map(Number),
    );
  } catch {
    return []; // the process or a thread is gone
  }
}

function status(pid: number): Status | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? NaN);
    return { rssKb: kb('VmRSS'), hwmKb: kb('VmHWM') };
  } catch {
    return undefined; // the process is gone
  }
}

/** One start of the server, measured until its last idle mark, then stopped. */
interface StartResult {
  kind: Kind;
  readyAfterS: number;
  peakToReadyMiB: number;
  readyMiB: number;
  /** RSS at each idle mark (key: seconds after ready). */
  idleMiB: Record<string, number>;
  /** VmHWM when stopped: the peak over the whole start, idle included. */
  peakOverallMiB: number;
  /** The highest VmHWM read of a child process (a first start's initdb); 0 when there was none. */
  childPeakMiB: number;
  /** The highest sampled RSS of the server and its children together. */
  peakWithChildrenMiB: number;
  /** The samples: [ms since spawn, RSS MiB]. */
  samples: [number, number][];
  /** --breakdown: resident MiB by class of mapping at the highest sample before ready, and at each idle mark. */
  peakClassesMiB?: Record<string, number>;
  probes?: Record<string, unknown>;
}

const mib = (kb: number): number => round(kb / 1024, 1);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function measureStart(kind: Kind, flags: Flags, env: Record<string, string>): Promise<StartResult> {
  const args = [...(flags.breakdown ? ['-r', PROBE] : []), 'dist/main.js'];
  const child = spawn(process.execPath, args, {
    cwd: flags.appRoot,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      PORT: '0',
      ...(flags.breakdown ? { MEMORY_PROBE: '1' } : {}),
      ...env,
      ...flags.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const spawnedAt = nowMs();
  const samples: [number, number][] = [];
  let last: Status | undefined;
  let ready = false;
  let childPeakKb = 0;
  let treePeakKb = 0;
  let peakClasses: { rssKb: number; classes: Record<string, number> } | undefined;
  const sample = (): Status | undefined => {
    const s = status(child.pid!);
    if (s) {
      last = s;
      let treeKb = s.rssKb;
      for (const pid of childrenOf(child.pid!)) {
        const c = status(pid);
        // A child that has exited but is not yet reaped has no VmRSS.
        if (c && Number.isFinite(c.rssKb)) {
          treeKb += c.rssKb;
          childPeakKb = Math.max(childPeakKb, c.hwmKb);
        }
      }
      treePeakKb = Math.max(treePeakKb, treeKb);
      samples.push([Math.round(nowMs() - spawnedAt), mib(s.rssKb)]);
      // Reading smaps takes a few ms: only when the RSS is 10 MiB above the highest breakdown so far.
      if (flags.breakdown && !ready && s.rssKb > (peakClasses?.rssKb ?? 0) + 10 * 1024) {
        try {
          peakClasses = { rssKb: s.rssKb, classes: mappingClasses(child.pid!) };
        } catch {
          // the process is gone
        }
      }
    }
    return s;
  };
  const sampler = setInterval(sample, flags.intervalMs);
  const probes: Record<string, unknown> = {};
  let pendingProbe: ((report: unknown) => void) | undefined;
  const stderr: string[] = [];
  createInterface({ input: child.stderr }).on('line', (line) => {
    if (line.startsWith('MEMORY-PROBE ')) {
      pendingProbe?.(JSON.parse(line.slice('MEMORY-PROBE '.length)));
    } else if (stderr.length < 100) {
      stderr.push(line);
    }
  });
  const exited = once(child, 'exit');
  try {
    const port = await listeningPort(child, exited, stderr);
    await waitReady(`http://127.0.0.1:${port}/health/ready`, exited);
    ready = true;
    const readyAt = nowMs();
    const atReady = sample() ?? last!;
    const idleMiB: Record<string, number> = {};
    for (const mark of flags.idle) {
      await sleep(Math.max(0, readyAt + mark * 1000 - nowMs()));
      idleMiB[mark] = mib((sample() ?? last!).rssKb);
      if (flags.breakdown) {
        const report = new Promise((r) => (pendingProbe = r));
        child.kill('SIGUSR2');
        probes[mark] = await Promise.race([report, sleep(5000).then(() => 'no answer')]);
      }
    }
    const end = sample() ?? last!;
    return {
      kind,
      readyAfterS: round((readyAt - spawnedAt) / 1000, 2),
      peakToReadyMiB: mib(atReady.hwmKb),
      readyMiB: mib(atReady.rssKb),
      idleMiB,
      peakOverallMiB: mib(end.hwmKb),
      childPeakMiB: mib(childPeakKb),
      peakWithChildrenMiB: mib(treePeakKb),
      samples,
      ...(peakClasses
        ? {
            peakClassesMiB: Object.fromEntries(
              Object.entries({ rss: peakClasses.rssKb, ...peakClasses.classes }).map(([k, v]) => [k, mib(v)]),
            ),
          }
        : {}),
      ...(flags.breakdown ? { probes } : {}),
    };
  } finally {
    clearInterval(sampler);
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    }
  }
}

function listeningPort(child: ChildProcess, exited: Promise<unknown[]>, stderr: string[]): Promise<number> {
  return new Promise<number>((resolvePort, reject) => {
    const timer = setTimeout(() => reject(new Error('the server did not listen in time')), READY_TIMEOUT_MS);
    let found = false;
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (found) {
        return;
      }
      try {
        const entry = JSON.parse(line) as { port?: unknown; msg?: unknown };
        if (typeof entry.port === 'number' && String(entry.msg).startsWith('listening on port')) {
          found = true;
          clearTimeout(timer);
          resolvePort(entry.port);
        }
      } catch {
        // not JSON; ignored
      }
    });
    void exited.then(([code]) => {
      clearTimeout(timer);
      reject(new Error(`the server exited with ${String(code)} before listening: ${stderr.join('\n')}`));
    });
  });
}

async function waitReady(url: string, exited: Promise<unknown>): Promise<void> {
  let gone = false;
  void exited.then(() => (gone = true));
  const deadline = nowMs() + READY_TIMEOUT_MS;
  while (!gone && nowMs() < deadline) {
    const ok = await fetch(url, { signal: AbortSignal.timeout(2000) }).then(
      (res) => res.status === 200,
      () => false,
    );
    if (ok) {
      return;
    }
    await sleep(20);
  }
  throw new Error(gone ? 'the server exited before it was ready' : `${url} did not answer 200 in time`);
}

/** Where each run's data lives: a fresh DATA_DIR and, with PostgreSQL, a fresh database. */
interface RunStore {
  env: Record<string, string>;
  drop(): Promise<void>;
}

async function makeStore(flags: Flags, serverUrl: string | undefined): Promise<RunStore> {
  const dataDir = mkdtempSync(join(os.tmpdir(), 'bench-memory-'));
  const env: Record<string, string> = {
    DATA_DIR: dataDir,
    LOCAL_JWT_SECRET: randomBytes(32).toString('base64url'),
    ...(flags.ai ? { OPENAI_API_KEY: 'bench-key', OPENAI_BASE_URL: 'http://127.0.0.1:9/v1' } : {}),
  };
  let database: string | undefined;
  if (serverUrl) {
    env.DATABASE_URL = await createDatabase(serverUrl);
    database = decodeURIComponent(new URL(env.DATABASE_URL).pathname.slice(1));
  }
  return {
    env,
    async drop() {
      rmSync(dataDir, { recursive: true, force: true });
      if (serverUrl && database) {
        const client = new Client({ connectionString: serverUrl });
        await client.connect();
        try {
          await client.query(`drop database if exists "${database.replace(/"/g, '""')}"`);
        } finally {
          await client.end();
        }
      }
    },
  };
}

type Figure = [label: string, pick: (r: StartResult) => number | undefined];

function figures(flags: Flags): Figure[] {
  return [
    ['peak to ready', (r) => r.peakToReadyMiB],
    ['ready', (r) => r.readyMiB],
    ...flags.idle.map((s): Figure => [`idle ${s} s`, (r) => r.idleMiB[s]]),
    ['peak overall', (r) => r.peakOverallMiB],
    ['initdb peak', (r) => r.childPeakMiB],
    ['peak with children', (r) => r.peakWithChildrenMiB],
    ['ready after (s)', (r) => r.readyAfterS],
  ];
}

function summarizeRuns(results: StartResult[], flags: Flags): Record<Kind, Record<string, Spread>> {
  const out = {} as Record<Kind, Record<string, Spread>>;
  for (const kind of KIND) {
    const runs = results.filter((r) => r.kind === kind);
    out[kind] = Object.fromEntries(figures(flags).map(([label, pick]) => [label, spread(runs.map(pick))]));
  }
  return out;
}

function printSummary(summary: Record<Kind, Record<string, Spread>>, flags: Flags): void {
  const labels = figures(flags).map(([label]) => label);
  const head = ['RSS, MiB: median [min–max]', ...labels];
  const rows = KIND.map((kind) => [
    kind === 'first' ? 'first start' : 'restart',
    ...labels.map((l) => formatSpread(summary[kind][l], 1)),
  ]);
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (c: string[]): string => c.map((x, i) => (i === 0 ? x.padEnd(w[i]) : x.padStart(w[i]))).join(' | ');
  console.log(line(head));
  console.log(w.map((n) => '-'.repeat(n)).join('-+-'));
  rows.forEach((r) => console.log(line(r)));
}

function facts(flags: Flags): Record<string, unknown> {
  const git = (...args: string[]): string | null => {
    try {
      return execFileSync('git', ['-C', flags.appRoot, ...args], { encoding: 'utf8' }).trim();
    } catch {
      return null;
    }
  };
  const cpus = os.cpus();
  return {
    machine: {
      cpus: cpus.length,
      cpuModel: cpus[0]?.model ?? 'unknown',
      totalMemMiB: Math.round(os.totalmem() / 2 ** 20),
      node: process.version,
      loadAvgAtStart: os.loadavg().map((l) => round(l, 2)),
    },
    build: {
      appRoot: flags.appRoot,
      commit: git('rev-parse', '--short', 'HEAD'),
      uncommittedFiles: git('status', '--porcelain', '--', 'src', 'migrations')?.split('\n').filter(Boolean).length,
    },
  };
}

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2));
  const startedAt = new Date();
  let server: PostgresServer | undefined;
  const stores: RunStore[] = [];
  const results: StartResult[] = [];
  const info = facts(flags);
  const m = info.machine as Record<string, unknown>;
  console.log(
    `memory: db=${flags.db}, ${flags.runs} runs of first start + restart, AI ${flags.ai ? 'configured' : 'off'}, ` +
      `idle marks ${flags.idle.join(', ')} s, samples every ${flags.intervalMs} ms` +
      `${Object.keys(flags.env).length ? `, env ${JSON.stringify(flags.env)}` : ''}; ` +
      `${String(m.cpus)} x ${String(m.cpuModel)}, node ${String(m.node)}, load avg ${(m.loadAvgAtStart as number[]).join(' ')}`,
  );
  const onSignal = (): void => {
    void Promise.allSettled([...stores.map((s) => s.drop()), server?.stop()]).then(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    let serverUrl = flags.databaseUrl;
    if (flags.db === 'postgres' && !serverUrl) {
      server = await startPostgresServer();
      serverUrl = server.url;
    }
    for (let run = 1; run <= flags.runs; run++) {
      const store = await makeStore(flags, serverUrl);
      stores.push(store);
      try {
        for (const kind of KIND) {
          const r = await measureStart(kind, flags, store.env);
          results.push(r);
          const idle = flags.idle.map((s) => `idle ${s} s ${r.idleMiB[s]}`).join(', ');
          console.log(
            `run ${run} ${kind}: peak ${r.peakToReadyMiB}, ready ${r.readyMiB} after ${r.readyAfterS} s, ${idle}, ` +
              `peak overall ${r.peakOverallMiB} MiB`,
          );
          if (r.peakClassesMiB) {
            console.log(`  highest sample while starting, MiB by mapping class: ${JSON.stringify(r.peakClassesMiB)}`);
          }
        }
      } finally {
        await store.drop();
        stores.splice(stores.indexOf(store), 1);
      }
    }
  } finally {
    await server?.stop();
  }
  const summary = summarizeRuns(results, flags);
  console.log('');
  printSummary(summary, flags);
  console.log('');
  writeResults({ startedAt: startedAt.toISOString(), flags, ...info, summary, starts: results }, startedAt, {
    kind: 'memory',
  });
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.stack : error);
  process.exit(1);
});
