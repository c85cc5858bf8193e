/**
 * The `cluster` phase (the cost of scale-out): one instance without Redis against two instances sharing a Redis
 * server, the same offered load on each at the same time (bench/paired.ts), each on its own database of one
 * PostgreSQL server. Every room of the cluster has members on both instances, so each message crosses Redis. Per
 * side: latency, CPU per send and per delivered message (the instances' threads, their database's backends,
 * redis-server's threads, from /proc), Redis commands and bytes per send. Then a third instance without sockets
 * joins the cluster for one more repeat: every instance reads the whole room feed, so what it costs is what each
 * further instance adds per message. Last, with N idle sockets on each side for one Socket.IO ping interval, the CPU
 * an idle connection costs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Redis from 'ioredis';
import { startRedisServer } from '../test/support/redis-server';
import { createDatabase } from '../test/support/postgres-server';
import { LineChild } from './line-protocol';
import { readEventLoop, type LoopDelay } from './metrics';
import { runPaired, type PairedResult, type PairedSide, type RoomSpec } from './paired';
import type { BenchPostgres } from './postgres';
import { nodeProcessProbe, postgresProbe, processTreeProbe, startProbes, type CpuProbe } from './proc-cpu';
import { round } from './stats';
import { createRoom, register, startTarget, type Target } from './targets';

export const SINGLE = '1 instance';
export const CLUSTER = '2 instances + Redis';
/** Socket.IO's ping interval (the app's SOCKET_PING_INTERVAL_MS default) and a second: every idle socket pinged once. */
const IDLE_WINDOW_MS = 26_000;
/** The same processes without sockets first: what they cost by themselves (timers, heartbeats, Redis reads). */
const BASE_WINDOW_MS = 10_000;

export interface ClusterOptions {
  pg: BenchPostgres;
  /** The app's environment (its limits, the fake provider, a fixed LOCAL_JWT_SECRET); DATABASE_URL, REDIS_URL and
   * DATA_DIR are set here. */
  env: Record<string, string>;
  appRoot: string;
  rooms: number;
  members: number;
  rate: number;
  durationS: number;
  warmupS: number;
  repeats: number;
  idle: number;
}

export interface IdleCost {
  sockets: number;
  /** CPU ms per second of the processes with no socket, by component. */
  baseMsPerSecond: Record<string, number>;
  /** CPU ms per second with the idle sockets, by component. */
  withSocketsMsPerSecond: Record<string, number>;
  /** What the sockets add: CPU µs per idle socket per second, by component. */
  usPerSocketSecond: Record<string, number>;
}

export interface ClusterResult {
  redis: { version: string };
  paired: PairedResult;
  /** One more repeat with a third instance that holds no socket (its CPU as `bystander main` / `other threads`). */
  bystander: PairedResult;
  idle: Record<string, IdleCost>;
}

const REDIS_COUNTERS = ['total_commands_processed', 'total_net_input_bytes', 'total_net_output_bytes'] as const;

function infoField(info: string, name: string): string {
  const m = new RegExp(`^${name}:(.*)$`, 'm').exec(info);
  if (!m) {
    throw new Error(`redis INFO has no ${name}`);
  }
  return m[1].trim();
}

/** Rooms of the load: member j of room i on instance (i + j) mod n, so every room spans the instances. */
async function makeRooms(urls: string[], rooms: number, members: number, tag: string): Promise<RoomSpec[]> {
  const users = await register(urls[0], rooms * members, tag);
  const out: RoomSpec[] = [];
  for (let r = 0; r < rooms; r++) {
    const m = users.slice(r * members, (r + 1) * members);
    out.push({
      id: await createRoom(urls[0], m[0], m.slice(1), 'off'),
      tokens: m.map((u) => u.token),
      urls: m.map((_, j) => urls[(r + j) % urls.length]),
    });
  }
  return out;
}

/** The largest of each figure over several processes' event-loop readings. */
async function worstLoop(targets: Target[]): Promise<LoopDelay> {
  const loops = await Promise.all(targets.map((t) => readEventLoop(t.url, 'app')));
  const max = (k: keyof LoopDelay) => Math.max(...loops.map((l) => l[k]));
  return { p50Ms: max('p50Ms'), p90Ms: max('p90Ms'), p99Ms: max('p99Ms'), maxMs: max('maxMs'), meanMs: max('meanMs') };
}

/** CPU ms per second of each side's processes over `ms`, both sides at once. */
async function cpuPerSecond(sides: { cpu: CpuProbe[] }[], ms: number): Promise<Record<string, number>[]> {
  const ends = sides.map((s) => startProbes(s.cpu));
  const t = Date.now();
  await sleep(ms);
  const cpus = ends.map((end) => end());
  const seconds = (Date.now() - t) / 1000;
  return cpus.map((cpu) => Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, round(v / seconds, 2)])));
}

/**
 * What an idle connection costs: each side's CPU without sockets (BASE_WINDOW_MS), then with N idle sockets on each
 * side at once for IDLE_WINDOW_MS (every socket pinged once); the difference per socket.
 */
async function idleCost(
  sides: { name: string; urls: string[]; tokens: string[]; cpu: CpuProbe[] }[],
  n: number,
): Promise<Record<string, IdleCost>> {
  console.log(
    `bench: cluster: no sockets for ${BASE_WINDOW_MS / 1000} s, then ${n} idle sockets on each side for ${IDLE_WINDOW_MS / 1000} s`,
  );
  const base = await cpuPerSecond(sides, BASE_WINDOW_MS);
  const children = sides.map(
    (s) =>
      new LineChild('load.js', [JSON.stringify({ mode: 'idle', url: s.urls[0], urls: s.urls, tokens: s.tokens, n })]),
  );
  try {
    await Promise.all(children.map((c) => c.next(180_000)));
    // Connecting costs more than holding: let the handshakes' work settle first.
    await sleep(3000);
    const held = await cpuPerSecond(sides, IDLE_WINDOW_MS);
    return Object.fromEntries(
      sides.map((s, i) => [
        s.name,
        {
          sockets: n,
          baseMsPerSecond: base[i],
          withSocketsMsPerSecond: held[i],
          usPerSocketSecond: Object.fromEntries(
            Object.entries(held[i]).map(([k, v]) => [k, round(((v - (base[i][k] ?? 0)) * 1000) / n, 3)]),
          ),
        },
      ]),
    );
  } finally {
    await Promise.all(children.map((c) => c.stop()));
  }
}

export async function runClusterPhase(opts: ClusterOptions): Promise<ClusterResult> {
  const redis = await startRedisServer();
  const client = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  const targets: Target[] = [];
  const dirs: string[] = [];
  /** Each instance its own DATA_DIR (nothing of the database lives there with DATABASE_URL set). */
  const dataDir = (): string => {
    dirs.push(mkdtempSync(join(tmpdir(), 'bench-cluster-')));
    return dirs[dirs.length - 1];
  };
  try {
    await client.connect();
    const info = await client.info();
    const redisPid = Number(infoField(info, 'process_id'));
    const base = { ...opts.env };
    delete base.REDIS_URL;
    const single = await startTarget(
      'single',
      ['dist/main.js'],
      { ...base, DATA_DIR: dataDir(), DATABASE_URL: await createDatabase(opts.pg.url, 'bench_single') },
      opts.appRoot,
    );
    targets.push(single);
    const clusterEnv = {
      ...base,
      DATABASE_URL: await createDatabase(opts.pg.url, 'bench_cluster'),
      REDIS_URL: redis.url,
    };
    // The first instance migrates the database; the second starts on it.
    const first = await startTarget(
      'cluster-1',
      ['dist/main.js'],
      { ...clusterEnv, DATA_DIR: dataDir() },
      opts.appRoot,
    );
    targets.push(first);
    const second = await startTarget(
      'cluster-2',
      ['dist/main.js'],
      { ...clusterEnv, DATA_DIR: dataDir() },
      opts.appRoot,
    );
    targets.push(second);
    const instances = [first, second];
    console.log(
      `bench: cluster: one instance on ${single.url} (pid ${single.child.pid}); two on ${first.url}, ${second.url} ` +
        `(pids ${first.child.pid}, ${second.child.pid}) with redis-server ${infoField(info, 'redis_version')} (pid ${redisPid})`,
    );
    const singleRooms = await makeRooms([single.url], opts.rooms, opts.members, 's');
    const clusterRooms = await makeRooms([first.url, second.url], opts.rooms, opts.members, 'k');
    const redisCpu = processTreeProbe(redisPid, () => 'redis');
    const singleCpu = [nodeProcessProbe(single.child.pid!), postgresProbe(opts.pg.pid(), 'bench_single', false)];
    const clusterCpu = [
      ...instances.map((i) => nodeProcessProbe(i.child.pid!)),
      postgresProbe(opts.pg.pid(), 'bench_cluster', false),
      redisCpu,
    ];
    // The cluster first: its ratios read as the cost of scale-out (cluster / one instance).
    const sides: PairedSide[] = [
      {
        name: CLUSTER,
        url: first.url,
        rooms: clusterRooms,
        cpu: clusterCpu,
        eventLoop: () => worstLoop(instances),
        counters: async () => {
          const stats = await client.info('stats');
          return Object.fromEntries(REDIS_COUNTERS.map((k) => [k, Number(infoField(stats, k))]));
        },
      },
      {
        name: SINGLE,
        url: single.url,
        rooms: singleRooms,
        cpu: singleCpu,
        eventLoop: () => readEventLoop(single.url, 'app'),
      },
    ];
    const paired = await runPaired(sides, {
      rate: opts.rate,
      durationS: opts.durationS,
      warmupS: opts.warmupS,
      repeats: opts.repeats,
      label: 'cluster: one instance and two with Redis at once',
    });
    const third = await startTarget(
      'cluster-3',
      ['dist/main.js'],
      { ...clusterEnv, DATA_DIR: dataDir() },
      opts.appRoot,
    );
    targets.push(third);
    const bystander = await runPaired(
      [{ ...sides[0], cpu: [...clusterCpu, nodeProcessProbe(third.child.pid!, undefined, 'bystander ')] }, sides[1]],
      {
        rate: opts.rate,
        durationS: opts.durationS,
        warmupS: opts.warmupS,
        repeats: 1,
        label: 'cluster: a third instance without sockets joins',
      },
    );
    await third.stop();
    const idle = await idleCost(
      [
        {
          name: CLUSTER,
          urls: instances.map((i) => i.url),
          tokens: clusterRooms.flatMap((r) => r.tokens),
          cpu: clusterCpu,
        },
        { name: SINGLE, urls: [single.url], tokens: singleRooms.flatMap((r) => r.tokens), cpu: singleCpu },
      ],
      opts.idle,
    );
    return { redis: { version: infoField(info, 'redis_version') }, paired, bystander, idle };
  } finally {
    client.disconnect();
    for (const t of targets.reverse()) {
      await t.stop();
    }
    await redis.stop();
    dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
  }
}
