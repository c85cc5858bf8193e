/**
 * The noisy-neighbour phase (`--only noisy`): one abusive signed-in client floods one kind of socket event at a time
 * while a well-behaved client (another user, another room) measures its own `message:send` ack and
 * `GET /api/rooms/:id/messages` latency. Per flood kind, after an uncounted warm-up flood, slices without and with
 * the flood alternate (off, on, off, on, ...); each pair gives an on/off ratio, and the table shows the median
 * ratio with its spread. The clients are child processes (bench/noisy-clients.ts); the target is an app the bench
 * started on loopback for this phase. See bench/README.md.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { LineChild } from './line-protocol';
import { scrapeMetrics } from './metrics';
import {
  FLOOD_KINDS,
  FLOOD_LABELS,
  type FloodCommand,
  type FloodKind,
  type FloodStats,
  type MeasureConfig,
  type FloodConfig,
} from './noisy-clients';
import { median, nowMs, round, spread, summarize, type Spread, type Summary } from './stats';

export { FLOOD_KINDS, type FloodKind };

/**
 * The app's limits for this phase: its defaults, except sign-in and HTTP (nothing here floods HTTP, and the
 * measuring client's GETs must not meet a limit), and message sends: the measuring client sends
 * MEASURE_SENDS_PER_SECOND, half of this budget, so that its own sends are never refused; the abuser's sends are
 * far over it.
 */
export const NOISY_RATE_ENV = {
  RATE_HTTP_PER_MINUTE: '1000000',
  RATE_AUTH_PER_MINUTE: '1000000',
  RATE_SEND_PER_10S: '400',
};
const MEASURE_SENDS_PER_SECOND = 20;
const MEASURE_GETS_PER_SECOND = 10;
/** Uncounted: the measuring client alone, then each kind's first flood. */
const MEASURE_WARMUP_MS = 3000;
const FLOOD_WARMUP_MS = 500;
/** Bounds of one flood besides its time. */
const FLOOD_MAX_EVENTS = 200_000;
const FLOOD_MAX_BYTES = 2 ** 30;
/**
 * Events the abuser leaves unanswered at most: the backlog it makes the server hold. A server without a budget
 * queues whatever arrives, so a client that never waits would do more harm; the cap keeps the backlog, and the
 * drain before the next "off" slice, to a second or two (less for the big events, each costing the app far more).
 */
const FLOOD_MAX_UNANSWERED: Record<FloodKind, number> = {
  none: 0,
  join: 1000,
  leave: 1000,
  aistop: 1000,
  typing: 1000,
  send: 1000,
  binary: 4,
  deep: 64,
};
/** How long a flood's owed answers are awaited before the next slice; then a pause before it starts. */
const DRAIN_MS = 5000;
const SETTLE_MS = 300;
/** The abuser connects from here (Linux routes all of 127/8 to loopback), the measuring client from 127.0.0.1. */
const ABUSER_ADDRESS = '127.0.0.2';
/** The goal: the well-behaved client's latency under a flood at most this many times its latency without. */
export const NOISY_GOAL_RATIO = 2;

export interface NoisyOptions {
  url: string;
  sliceSeconds: number;
  pairs: number;
  kinds: FloodKind[];
  /** Two users with their tokens (the well-behaved one first, the abuser second) and a room each. */
  register(count: number): Promise<{ token: string; roomId: string }[]>;
}

interface Slice {
  on: boolean;
  start: number;
  end: number;
  eventLoop?: { p99Ms: number; maxMs: number };
  rssMiB?: number;
  /** The app's CPU time over the slice (an on slice: and its drain), in % of one core. */
  appCpuPercent?: number;
  flood?: FloodStats;
}

interface MetricResult {
  /** Median over the slices of each slice's figure. */
  off: { p50: number | null; p99: number | null };
  on: { p50: number | null; p99: number | null };
  /** on / off of each pair of slices: median, min and max over the pairs. */
  ratioP50: Spread;
  ratioP99: Spread;
  /** Every sample of the condition together. */
  pooledOff: Summary;
  pooledOn: Summary;
  /** Failed requests (an error answer; a timeout counts as its time instead). */
  errorsOff: number;
  errorsOn: number;
  perSlice: { on: boolean; summary: Summary; errors: number }[];
}

export interface KindResult {
  kind: FloodKind;
  label: string;
  warmup: FloodStats;
  send: MetricResult;
  get: MetricResult;
  /** The abuser over the "on" slices together. */
  flood: {
    emittedPerSecond: number;
    answeredPerSecond: number;
    megabytesPerSecond: number;
    outcomes: Record<string, number>;
    lostOnDisconnect: number;
    unansweredAfterDrain: number;
    maxDrainMs: number;
    disconnects: number;
    reconnects: number;
    connectErrors: Record<string, number>;
    stoppedBy: string[];
    cpuPercent: number;
  };
  slices: Slice[];
}

export interface NoisyResult {
  sliceSeconds: number;
  pairs: number;
  sendsPerSecond: number;
  getsPerSecond: number;
  env: Record<string, string>;
  kinds: KindResult[];
  measureErrors: Record<string, number>;
  /** [when, why] of each disconnect of the measuring client, and the kind and slice it fell in. */
  measureDisconnects: { at: number; reason: string; during: string }[];
}

interface Scrape {
  at: number;
  p99Ms: number;
  maxMs: number;
  rssMiB: number;
  cpuSeconds: number;
}

/** The app's event-loop delay since the previous scrape (prom-client resets it on each), its RSS and CPU time. */
async function scrape(url: string): Promise<Scrape> {
  const m = await scrapeMetrics(url);
  return {
    at: m.at,
    p99Ms: round(m.value('nodejs_eventloop_lag_p99_seconds') * 1000, 1),
    maxMs: round(m.value('nodejs_eventloop_lag_max_seconds') * 1000, 1),
    rssMiB: round(m.value('process_resident_memory_bytes') / 2 ** 20, 0),
    cpuSeconds: m.value('process_cpu_seconds_total'),
  };
}

/** What the app did between two scrapes: its event-loop delay, RSS, and CPU time as a share of one core. */
function appBetween(a: Scrape, b: Scrape): Pick<Slice, 'eventLoop' | 'rssMiB' | 'appCpuPercent'> {
  return {
    eventLoop: { p99Ms: b.p99Ms, maxMs: b.maxMs },
    rssMiB: b.rssMiB,
    appCpuPercent: round(((b.cpuSeconds - a.cpuSeconds) * 1000 * 100) / Math.max(1, b.at - a.at), 0),
  };
}

export async function runNoisyPhase(opts: NoisyOptions): Promise<NoisyResult> {
  const [good, bad] = await opts.register(2);
  const measurer = new LineChild('noisy-clients.js', [
    'measure',
    JSON.stringify({
      url: opts.url,
      token: good.token,
      roomId: good.roomId,
      sendsPerSecond: MEASURE_SENDS_PER_SECOND,
      getsPerSecond: MEASURE_GETS_PER_SECOND,
    } satisfies MeasureConfig),
  ]);
  const flooder = new LineChild('noisy-clients.js', [
    'flood',
    JSON.stringify({
      url: opts.url,
      token: bad.token,
      roomId: bad.roomId,
      localAddress: ABUSER_ADDRESS,
    } satisfies FloodConfig),
  ]);
  const sliceMs = opts.sliceSeconds * 1000;
  const floodCmd = (kind: FloodKind, ms: number): FloodCommand => ({
    cmd: 'flood',
    kind,
    ms,
    maxEvents: FLOOD_MAX_EVENTS,
    maxBytes: FLOOD_MAX_BYTES,
    maxUnanswered: FLOOD_MAX_UNANSWERED[kind],
    drainMs: DRAIN_MS,
  });
  const floodTimeout = (ms: number) => ms + DRAIN_MS + 60_000;
  const runs: { kind: FloodKind; warmup: FloodStats; slices: Slice[] }[] = [];
  let measured: {
    sends: [number, number][];
    gets: [number, number][];
    errors: Record<string, number>;
    disconnects: [number, string][];
  };
  try {
    await measurer.next(30_000);
    await flooder.next(30_000);
    await sleep(MEASURE_WARMUP_MS);
    for (const kind of opts.kinds) {
      console.log(
        `bench: noisy: ${FLOOD_LABELS[kind]}: warm-up, then ${opts.pairs} x (${opts.sliceSeconds} s off, ${opts.sliceSeconds} s on)`,
      );
      const warmup = await flooder.request<FloodStats>(floodCmd(kind, FLOOD_WARMUP_MS), floodTimeout(FLOOD_WARMUP_MS));
      await sleep(SETTLE_MS);
      const slices: Slice[] = [];
      for (let p = 0; p < opts.pairs; p++) {
        const beforeOff = await scrape(opts.url);
        const start = nowMs();
        await sleep(sliceMs);
        const end = nowMs();
        const afterOff = await scrape(opts.url);
        slices.push({ on: false, start, end, ...appBetween(beforeOff, afterOff) });

        const flood = await flooder.request<FloodStats>(floodCmd(kind, sliceMs), floodTimeout(sliceMs));
        // Read after the drain: what the flood cost the app, and its memory then.
        const afterOn = await scrape(opts.url);
        slices.push({ on: true, start: flood.startedAt, end: flood.endedAt, ...appBetween(afterOff, afterOn), flood });
        await sleep(SETTLE_MS);
      }
      runs.push({ kind, warmup, slices });
    }
    await flooder.request({ cmd: 'quit' }, 5000).catch(() => undefined);
    measured = await measurer.request({ cmd: 'stop' }, 60_000);
  } finally {
    await flooder.stop();
    await measurer.stop();
  }
  return {
    sliceSeconds: opts.sliceSeconds,
    pairs: opts.pairs,
    sendsPerSecond: MEASURE_SENDS_PER_SECOND,
    getsPerSecond: MEASURE_GETS_PER_SECOND,
    env: NOISY_RATE_ENV,
    kinds: runs.map((r) => ({
      kind: r.kind,
      label: FLOOD_LABELS[r.kind],
      warmup: r.warmup,
      send: metric(r.slices, measured.sends),
      get: metric(r.slices, measured.gets),
      flood: floodTotals(r.slices.flatMap((s) => (s.flood ? [s.flood] : []))),
      slices: r.slices,
    })),
    measureErrors: measured.errors,
    measureDisconnects: measured.disconnects
      .filter(([, reason]) => reason !== 'io client disconnect')
      .map(([at, reason]) => ({ at, reason, during: whereIs(runs, at) })),
  };
}

/** Which kind and slice a moment fell in (or between which). */
function whereIs(runs: { kind: FloodKind; slices: Slice[] }[], t: number): string {
  for (const r of runs) {
    for (const [i, s] of r.slices.entries()) {
      if (t >= s.start && t < s.end) {
        return `${r.kind} slice ${i} (${s.on ? 'on' : 'off'})`;
      }
      if (t < s.start) {
        return `${r.kind} before slice ${i}`;
      }
    }
  }
  return 'after the last slice';
}

/** The samples sent within each slice; an error answer (-1) counts as an error, not a latency. */
function metric(slices: Slice[], samples: [number, number][]): MetricResult {
  const perSlice = slices.map((s) => {
    const inSlice = samples.filter(([t]) => t >= s.start && t < s.end);
    const ok = inSlice.filter(([, ms]) => ms >= 0).map(([, ms]) => ms);
    return { on: s.on, summary: summarize(ok), errors: inSlice.length - ok.length, values: ok };
  });
  const cond = (on: boolean) => perSlice.filter((s) => s.on === on);
  const ratios = (p: 'p50' | 'p99'): Spread => {
    const offs = cond(false);
    return spread(
      cond(true).map((on, i) => {
        const a = on.summary[p];
        const b = offs[i]?.summary[p];
        return a !== null && b !== null && b !== undefined && b > 0 ? a / b : null;
      }),
    );
  };
  return {
    off: { p50: median(cond(false).map((s) => s.summary.p50)), p99: median(cond(false).map((s) => s.summary.p99)) },
    on: { p50: median(cond(true).map((s) => s.summary.p50)), p99: median(cond(true).map((s) => s.summary.p99)) },
    ratioP50: ratios('p50'),
    ratioP99: ratios('p99'),
    pooledOff: summarize(cond(false).flatMap((s) => s.values)),
    pooledOn: summarize(cond(true).flatMap((s) => s.values)),
    errorsOff: cond(false).reduce((a, s) => a + s.errors, 0),
    errorsOn: cond(true).reduce((a, s) => a + s.errors, 0),
    perSlice: perSlice.map(({ on, summary, errors }) => ({ on, summary, errors })),
  };
}

function floodTotals(floods: FloodStats[]): KindResult['flood'] {
  const seconds = floods.reduce((a, f) => a + f.seconds, 0) || 1;
  const sum = (k: 'emitted' | 'answered' | 'megabytes' | 'lostOnDisconnect' | 'unansweredAfterDrain') =>
    floods.reduce((a, f) => a + f[k], 0);
  const merge = (pick: (f: FloodStats) => Record<string, number>) => {
    const out: Record<string, number> = {};
    for (const f of floods) {
      for (const [k, v] of Object.entries(pick(f))) {
        out[k] = (out[k] ?? 0) + v;
      }
    }
    return out;
  };
  return {
    emittedPerSecond: round(sum('emitted') / seconds, 0),
    answeredPerSecond: round(sum('answered') / seconds, 0),
    megabytesPerSecond: round(sum('megabytes') / seconds, 1),
    outcomes: merge((f) => f.outcomes),
    lostOnDisconnect: sum('lostOnDisconnect'),
    unansweredAfterDrain: sum('unansweredAfterDrain'),
    maxDrainMs: Math.max(0, ...floods.map((f) => f.drainMs)),
    disconnects: floods.reduce((a, f) => a + f.disconnects, 0),
    reconnects: floods.reduce((a, f) => a + f.reconnects, 0),
    connectErrors: merge((f) => f.connectErrors),
    stoppedBy: [...new Set(floods.map((f) => f.stoppedBy))],
    cpuPercent: round(floods.reduce((a, f) => a + f.cpuPercent * f.seconds, 0) / seconds, 0),
  };
}

/** The phase's table: per flood kind, the well-behaved client's figures off and on, and the on/off ratios. */
export function printNoisy(r: NoisyResult | undefined): void {
  if (!r?.kinds?.length) {
    return;
  }
  const f = (v: number | null | undefined, d = 1) => (v === null || v === undefined ? '—' : v.toFixed(d));
  const spread = (s: Spread) => `${f(s.median, 2)} [${f(s.min, 2)}–${f(s.max, 2)}]`;
  const verdict = (s: Spread) => (s.median === null ? '' : s.median <= NOISY_GOAL_RATIO ? 'ok' : 'OVER');
  console.log(
    `\nnoisy neighbour: well-behaved client (message:send ${r.sendsPerSecond}/s, GET messages ${r.getsPerSecond}/s) ` +
      `while one abusive client floods; ${r.pairs} pairs of ${r.sliceSeconds} s slices, off then on; ` +
      `ms = median over slices; on/off = median [min–max] over pairs; pooled = on/off of all samples together; ` +
      `goal: median on/off <= ${NOISY_GOAL_RATIO}`,
  );
  const head = ['flood kind', 'figure', 'off ms', 'on ms', 'on/off', 'pooled', 'goal'];
  const w = [31, 12, 8, 8, 22, 7, 4];
  const row = (cells: string[]) =>
    console.log(cells.map((c, i) => (i < 2 ? c.padEnd(w[i]) : c.padStart(w[i]))).join(' | '));
  row(head);
  console.log(w.map((n) => '-'.repeat(n)).join('-+-'));
  for (const k of r.kinds) {
    const lines: [string, MetricResult, 'p50' | 'p99'][] = [
      ['send ack p50', k.send, 'p50'],
      ['send ack p99', k.send, 'p99'],
      ['GET p50', k.get, 'p50'],
      ['GET p99', k.get, 'p99'],
    ];
    lines.forEach(([name, m, p], i) => {
      const s = p === 'p50' ? m.ratioP50 : m.ratioP99;
      const on = m.pooledOn[p];
      const off = m.pooledOff[p];
      const pooled = on !== null && off !== null && off > 0 ? on / off : null;
      row([i === 0 ? k.label : '', name, f(m.off[p]), f(m.on[p]), spread(s), f(pooled, 2), verdict(s)]);
    });
    const fl = k.flood;
    const outcomes = Object.entries(fl.outcomes)
      .sort((a, b) => b[1] - a[1])
      .map(([code, n]) => `${code} ${n}`)
      .join(', ');
    const of = (on: boolean, pick: (s: Slice) => number | undefined) =>
      k.slices
        .filter((s) => s.on === on)
        .map((s) => f(pick(s), 0))
        .join('/');
    const errors = k.send.errorsOn + k.get.errorsOn + k.send.errorsOff + k.get.errorsOff;
    if (k.kind !== 'none') {
      console.log(
        `    abuser (${fl.cpuPercent}% of a core): ${fl.emittedPerSecond} events/s sent (${fl.megabytesPerSecond} MB/s), ${fl.answeredPerSecond}/s answered ` +
          `(${outcomes || 'none'}); disconnected ${fl.disconnects}x, reconnected ${fl.reconnects}x` +
          `${Object.keys(fl.connectErrors).length ? ` (refused: ${JSON.stringify(fl.connectErrors)})` : ''}` +
          `, ${fl.lostOnDisconnect} lost to disconnects; drain <= ${fl.maxDrainMs} ms` +
          `${fl.unansweredAfterDrain ? ` and still ${fl.unansweredAfterDrain} unanswered after it (the next "off" slice is not clean)` : ''}`,
      );
    }
    console.log(
      `    app: event-loop p99 ms off ${of(false, (s) => s.eventLoop?.p99Ms)} on ${of(true, (s) => s.eventLoop?.p99Ms)}` +
        `; CPU % of a core off ${of(false, (s) => s.appCpuPercent)} on ${of(true, (s) => s.appCpuPercent)}; ` +
        `RSS MiB ${Math.max(...k.slices.map((s) => s.rssMiB ?? 0))} max` +
        `${errors ? `; well-behaved errors off ${k.send.errorsOff + k.get.errorsOff} on ${k.send.errorsOn + k.get.errorsOn}` : ''}`,
    );
  }
  if (Object.keys(r.measureErrors).length || r.measureDisconnects.length) {
    console.log(
      `noisy: well-behaved client errors ${JSON.stringify(r.measureErrors)}; disconnects: ${
        r.measureDisconnects.map((d) => `${d.reason} during ${d.during}`).join(', ') || 'none'
      }`,
    );
  }
}
