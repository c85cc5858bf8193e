/**
 * CPU time of processes and of their threads, read from /proc: each thread's run time in nanoseconds from
 * `/proc/<pid>/task/<tid>/schedstat` (its first field; the scheduler's own count, not sampled), or, where the kernel
 * has no schedstat, utime + stime from `/proc/<pid>/task/<tid>/stat` in clock ticks. A probe is started before a
 * measured window and ended after it, and answers CPU milliseconds by component.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second, for the stat fallback (100 on Linux almost everywhere). */
const TICKS_PER_SECOND = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

interface Thread {
  comm: string;
  ns: number;
}

function read(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null; // the thread or process is gone
  }
}

/** Run time of one task (a thread, or a process's main thread) in ns; null once it is gone. */
function taskNs(dir: string): number | null {
  const schedstat = read(`${dir}/schedstat`);
  if (schedstat !== null) {
    return Number(schedstat.split(' ')[0]);
  }
  const stat = read(`${dir}/stat`);
  if (stat === null) {
    return null;
  }
  // Fields after the command (which may hold spaces): state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1e9) / TICKS_PER_SECOND;
}

function threads(pid: number): Map<number, Thread> {
  const out = new Map<number, Thread>();
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    const dir = `/proc/${pid}/task/${tid}`;
    const ns = taskNs(dir);
    if (ns !== null) {
      out.set(Number(tid), { comm: read(`${dir}/comm`)?.trim() ?? '?', ns });
    }
  }
  return out;
}

/** CPU ms by component over a window: `start()` reads, the function it returns reads again and subtracts. */
export interface CpuProbe {
  start(): () => Record<string, number>;
}

const ms = (ns: number): number => Math.round(ns / 1e4) / 100;

/**
 * A Node process: its main thread (tid = pid) as `main`; when `engineLabel` is given, the embedded database's worker
 * thread under that name (Node 24 names it `WorkerThread`; Node 20 names every thread `node`, so there it is the
 * busiest thread besides the main one); every other thread together as `other threads` (V8's GC and compiler
 * helpers, libuv's pool). Each name starts with `prefix`. Threads born in the window count from zero.
 */
export function nodeProcessProbe(pid: number, engineLabel?: string, prefix = ''): CpuProbe {
  return {
    start() {
      const before = threads(pid);
      return () => {
        const delta = [...threads(pid)].map(([tid, t]) => ({
          tid,
          comm: t.comm,
          ns: t.ns - (before.get(tid)?.ns ?? 0),
        }));
        const main = delta.find((t) => t.tid === pid);
        const rest = delta.filter((t) => t.tid !== pid);
        const engine = engineLabel
          ? (rest.find((t) => t.comm === 'WorkerThread') ?? [...rest].sort((a, b) => b.ns - a.ns)[0])
          : undefined;
        const other = rest.filter((t) => t !== engine).reduce((a, t) => a + t.ns, 0);
        return {
          [`${prefix}main`]: ms(main?.ns ?? 0),
          ...(engineLabel ? { [`${prefix}${engineLabel}`]: ms(engine?.ns ?? 0) } : {}),
          [`${prefix}other threads`]: ms(other),
        };
      };
    },
  };
}

/** The processes of a tree: `root` and its descendants, each with its command line. */
function tree(root: number): Map<number, { cmdline: string; ns: number }> {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) {
      continue;
    }
    const stat = read(`/proc/${entry}/stat`);
    if (stat) {
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    }
  }
  const out = new Map<number, { cmdline: string; ns: number }>();
  const visit = (pid: number): void => {
    const ns = [...threads(pid).values()].reduce((a, t) => a + t.ns, 0);
    out.set(pid, { cmdline: (read(`/proc/${pid}/cmdline`) ?? '').replaceAll('\0', ' ').trim(), ns });
    for (const child of children.get(pid) ?? []) {
      visit(child);
    }
  };
  visit(root);
  return out;
}

/**
 * A process tree (a PostgreSQL postmaster and its backends, a Redis server): every thread of every process,
 * grouped into components by `group(command line)` (null: not counted). A process that exits within the window takes its CPU with it
 * (PostgreSQL's pooled backends and background workers live on; an autovacuum worker may not).
 */
export function processTreeProbe(root: number, group: (cmdline: string) => string | null): CpuProbe {
  return {
    start() {
      const before = tree(root);
      return () => {
        const out: Record<string, number> = {};
        for (const [pid, p] of tree(root)) {
          const key = group(p.cmdline);
          if (key !== null) {
            out[key] = (out[key] ?? 0) + p.ns - (before.get(pid)?.ns ?? 0);
          }
        }
        return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, ms(v)]));
      };
    },
  };
}

/** Starts every probe; the function returned ends them all and adds up their components by name. */
export function startProbes(probes: CpuProbe[]): () => Record<string, number> {
  const ends = probes.map((p) => p.start());
  return () => {
    const out: Record<string, number> = {};
    for (const [k, v] of ends.flatMap((end) => Object.entries(end()))) {
      out[k] = Math.round(((out[k] ?? 0) + v) * 100) / 100;
    }
    return out;
  };
}

/** The component name of a PostgreSQL server's own processes (`postgresProbe`). */
export const POSTGRES_BACKGROUND = 'postgres background';

/** PostgreSQL's process title of a backend: `postgres: <user> <database> <client address>(<port>) <state>`. */
const BACKEND = /^postgres: \S+ (\S+) (?:[\d.:a-f]+\(\d+\)|\[local\])/;

/**
 * A PostgreSQL server's CPU: the backends of `database` as `postgres backends`; with `background`, the server's own
 * processes (postmaster, WAL writer, checkpointer, background writer, autovacuum) as `postgres background` (leave
 * them out when two sides share the server: both would count them). Backends of other databases are not counted.
 */
export function postgresProbe(postmasterPid: number, database: string, background = true): CpuProbe {
  return processTreeProbe(postmasterPid, (cmdline) => {
    const db = BACKEND.exec(cmdline)?.[1];
    if (db === undefined) {
      return background ? POSTGRES_BACKGROUND : null;
    }
    return db === database ? 'postgres backends' : null;
  });
}

/** `some ... total=<µs>` of /proc/pressure/cpu: how long, in all, some runnable task has waited for a CPU. */
function cpuStallUs(): number | null {
  const m = /^some .* total=(\d+)/m.exec(read('/proc/pressure/cpu') ?? '');
  return m ? Number(m[1]) : null;
}

/**
 * The machine's CPU pressure over a window (Linux PSI): the share of wall time in which at least one runnable task
 * waited for a CPU, in %. Near 0 the targets had the cores they asked for; on this shared box other work pushes it
 * to 50–90 %, and every latency then includes waiting for a core. Null without PSI.
 */
export function startCpuPressure(): () => number | null {
  const us = cpuStallUs();
  const t = performance.now();
  return () => {
    const now = cpuStallUs();
    return us === null || now === null ? null : Math.round(((now - us) / 1000 / (performance.now() - t)) * 100);
  };
}
