/**
 * Paired load: two targets (the app and the relay; one instance and a cluster) under the same offered load at the
 * same time, each driven by its own load process (bench/load.ts), after a warm-up, repeated. Each repeat starts both
 * loads together once every member has joined, and reads each target's CPU by thread (bench/proc-cpu.ts) and its
 * event-loop delay around its own sending. The figures are the median over the repeats with the smallest and
 * largest value, and the ratio of the two targets is taken within each repeat (then its median and spread).
 */
import { LineChild } from './line-protocol';
import { beyondTick, type LoopDelay } from './metrics';
import { startCpuPressure, startProbes, type CpuProbe } from './proc-cpu';
import { spread, type Spread } from './stats';

export interface RoomSpec {
  id: string;
  tokens: string[];
  urls?: string[];
}

export interface PairedSide {
  name: string;
  url: string;
  rooms: RoomSpec[];
  cpu: CpuProbe[];
  /** Reads (and resets) the target's event-loop delay. */
  eventLoop?: () => Promise<LoopDelay>;
  /** Counters read when the load starts and when it ends (Redis's commands); the run keeps the differences. */
  counters?: () => Promise<Record<string, number>>;
}

export interface PairedOptions {
  rate: number;
  durationS: number;
  warmupS: number;
  repeats: number;
  /** Printed before each repeat. */
  label: string;
}

/** One target in one repeat: the load's result, CPU ms by component over its sending, its event-loop delay. */
export interface SideRun {
  chat: any;
  cpuMs: Record<string, number>;
  eventLoop?: LoopDelay;
  counters?: Record<string, number>;
  /** When the readings began and ended, in µs of the monotonic clock (V8's CPU profiles use the same clock). */
  window: { startUs: number; endUs: number };
}

export interface PairedResult {
  rate: number;
  durationS: number;
  warmupS: number;
  sides: string[];
  warmup: Record<string, SideRun>;
  repeats: Record<string, SideRun>[];
  /** The machine's CPU pressure during each repeat (bench/proc-cpu.ts), in %. */
  cpuPressure: (number | null)[];
}

function monotonicUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

/**
 * Loads at once: ready, then started together; each target's readings end when its own load answers. `onGo` is called
 * as they start (something else to run beside them, from the same moment).
 */
export async function runLoads(
  sides: PairedSide[],
  rate: number,
  durationS: number,
  onGo?: () => void,
): Promise<Record<string, SideRun>> {
  const children = sides.map(
    (s) =>
      new LineChild('load.js', [
        JSON.stringify({ mode: 'chat', url: s.url, rooms: s.rooms, rate, durationS, drainMs: 5000, cue: true }),
      ]),
  );
  try {
    await Promise.all(children.map((c) => c.next(120_000)));
    // Reset each histogram, so that the reading after the load covers the load alone.
    await Promise.all(sides.map(async (s) => s.eventLoop?.()));
    onGo?.();
    const runs = await Promise.all(
      sides.map(async (side, i): Promise<SideRun> => {
        const before = await side.counters?.();
        const end = startProbes(side.cpu);
        const startUs = monotonicUs();
        children[i].send({ cmd: 'go' });
        const chat = await children[i].next<any>((durationS + 60) * 1000);
        const cpuMs = end();
        const window = { startUs, endUs: monotonicUs() };
        const after = await side.counters?.();
        const counters =
          before && after ? Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - before[k]])) : undefined;
        return { chat, cpuMs, eventLoop: await side.eventLoop?.(), counters, window };
      }),
    );
    return Object.fromEntries(sides.map((s, i) => [s.name, runs[i]]));
  } finally {
    await Promise.all(children.map((c) => c.stop()));
  }
}

export async function runPaired(sides: PairedSide[], opts: PairedOptions): Promise<PairedResult> {
  console.log(`bench: ${opts.label}: warm-up, ${opts.rate}/s each for ${opts.warmupS} s`);
  const warmup = await runLoads(sides, opts.rate, opts.warmupS);
  const repeats: Record<string, SideRun>[] = [];
  const cpuPressure: (number | null)[] = [];
  for (let i = 0; i < opts.repeats; i++) {
    console.log(`bench: ${opts.label}: repeat ${i + 1}/${opts.repeats}, ${opts.rate}/s each for ${opts.durationS} s`);
    const pressure = startCpuPressure();
    repeats.push(await runLoads(sides, opts.rate, opts.durationS));
    cpuPressure.push(pressure());
  }
  return {
    rate: opts.rate,
    durationS: opts.durationS,
    warmupS: opts.warmupS,
    sides: sides.map((s) => s.name),
    warmup,
    repeats,
    cpuPressure,
  };
}

/** CPU components that make up the target's own process(es); the rest (a database server, Redis) are beside it. */
const PROCESS_COMPONENTS = ['main', 'engine', 'other threads'];

/** µs of CPU per acked send, by component, plus `process total` and `all`. */
export function cpuPerSend(run: SideRun): Record<string, number> {
  const acked = Math.max(1, run.chat.acked as number);
  const us = (ms: number): number => Math.round((ms * 1000) / acked);
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(run.cpuMs)) {
    out[k] = us(v);
  }
  const sum = (keys: string[]): number => keys.reduce((a, k) => a + (run.cpuMs[k] ?? 0), 0);
  out['process total'] = us(sum(PROCESS_COMPONENTS));
  out.all = us(sum(Object.keys(run.cpuMs)));
  return out;
}

/** The load process's own CPU over its window (bench/load.ts `loadCpuMs`), in % of one core. */
export function loadCpuPercent(chat: { loadCpuMs: number; windowMs: number }): number {
  return Math.round((100 * chat.loadCpuMs) / chat.windowMs);
}

/** A figure of a run; null where the run has none. */
export type Pick = (run: SideRun) => number | null | undefined;

export const LATENCY_FIGURES: [string, Pick][] = [
  ['send→ack p50 ms', (r) => r.chat.ackMs.p50],
  ['send→ack p95 ms', (r) => r.chat.ackMs.p95],
  ['send→ack p99 ms', (r) => r.chat.ackMs.p99],
  ['send→message:new p50 ms', (r) => r.chat.deliveryMs.p50],
  ['send→message:new p99 ms', (r) => r.chat.deliveryMs.p99],
  ['event-loop delay p99 ms*', (r) => beyondTick(r.eventLoop?.p99Ms)],
  ['acked/s', (r) => r.chat.ackedPerSecond],
  ['delivered/s', (r) => r.chat.deliveredPerSecond],
];

/** One row per CPU component any side has, in µs per acked send. */
export function cpuFigures(result: PairedResult, perDelivery = false): [string, Pick][] {
  const keys = new Set<string>();
  for (const rep of result.repeats) {
    for (const run of Object.values(rep)) {
      Object.keys(cpuPerSend(run)).forEach((k) => keys.add(k));
    }
  }
  const per = perDelivery ? 'delivery' : 'send';
  return [...keys].map((k) => [
    `CPU µs per ${per}: ${k}`,
    (r) => {
      const v = cpuPerSend(r)[k];
      return v === undefined ? null : perDelivery ? Math.round((v * r.chat.acked) / Math.max(1, r.chat.deliveries)) : v;
    },
  ]);
}

export interface PairedRow {
  figure: string;
  a: Spread;
  b: Spread;
  /** a / b within each repeat. */
  ratio: Spread;
}

export function pairedRows(result: PairedResult, figures: [string, Pick][]): PairedRow[] {
  const [a, b] = result.sides;
  return figures.map(([figure, pick]) => ({
    figure,
    a: spread(result.repeats.map((r) => pick(r[a]))),
    b: spread(result.repeats.map((r) => pick(r[b]))),
    ratio: spread(
      result.repeats.map((r) => {
        const x = pick(r[a]);
        const y = pick(r[b]);
        return typeof x === 'number' && typeof y === 'number' && y > 0 ? x / y : null;
      }),
    ),
  }));
}

/** Counts summed over every repeat: what must be zero. */
export function pairedCounts(result: PairedResult, side: string): Record<string, number> {
  const sum = (pick: (chat: any) => number): number => result.repeats.reduce((n, r) => n + pick(r[side].chat), 0);
  return {
    sent: sum((c) => c.sent),
    lost: sum((c) => c.lost),
    duplicated: sum((c) => c.duplicates),
    seqGaps: sum((c) => c.seqGaps),
    ackErrors: sum((c) => c.ackErrors + c.ackTimeouts),
  };
}

export function formatSpread(s: Spread, digits = 2): string {
  const f = (v: number | null): string => (v === null ? '—' : String(Number(v.toFixed(digits))));
  return s.median === null ? '—' : s.min === s.max ? f(s.median) : `${f(s.median)} [${f(s.min)}–${f(s.max)}]`;
}

export function printPaired(title: string, result: PairedResult, figures: [string, Pick][]): void {
  const [a, b] = result.sides;
  const rows = pairedRows(result, figures).filter((r) => r.a.median !== null || r.b.median !== null);
  const head = ['figure', a, b, `${a} / ${b}`];
  const cells = rows.map((r) => [r.figure, formatSpread(r.a), formatSpread(r.b), formatSpread(r.ratio)]);
  const w = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]): string => c.map((x, i) => (i === 0 ? x.padEnd(w[i]) : x.padStart(w[i]))).join(' | ');
  console.log(`\n${title}`);
  console.log(line(head));
  console.log(w.map((n) => '-'.repeat(n)).join('-+-'));
  cells.forEach((c) => console.log(line(c)));
  console.log(
    `machine CPU pressure (share of time some task waited for a core) per repeat: ` +
      `${result.cpuPressure.map((p) => (p === null ? '—' : `${p} %`)).join(', ')}`,
  );
  for (const side of result.sides) {
    const c = pairedCounts(result, side);
    const load = result.repeats.map((r) => loadCpuPercent(r[side].chat));
    const slowest = result.repeats.map((r) => {
      const [at, ms] = (r[side].chat.slowestAcks as [number, number][])[0] ?? [];
      return at === undefined ? '—' : `${ms} ms at ${at} s`;
    });
    console.log(
      `${side}: ${c.sent} sent over ${result.repeats.length} repeats; lost ${c.lost}, duplicated ${c.duplicated}, ` +
        `seq gaps ${c.seqGaps}, ack errors + timeouts ${c.ackErrors}; its load process used ${load.join('/')} % of a ` +
        `core; slowest ack per repeat ${slowest.join(', ')}`,
    );
  }
}
