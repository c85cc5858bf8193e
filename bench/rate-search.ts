/**
 * The rate search: the highest offered rate at which a step passes (p99 ack < 50 ms, nothing lost, no ack errors or
 * timeouts, >= 95 % of the rate acked). It doubles the rate from the start while steps pass (8 steps at most; halving
 * first when the first step fails), then bisects between the last pass and the first fail until they are within
 * 7 % (4 steps at most). A failing step is run again before it counts as failed: one stall of another process on
 * this shared machine would otherwise decide it. Before the search, one uncounted step at the start rate warms the
 * target. Two searches given the same `takingTurns()` alternate step by step. After each step the target is left to
 * settle (`settle`): a step it could not keep up with leaves sends queued (the load stops waiting for acks after 5 s;
 * the app's database calls wait up to 15 s), and that work would otherwise run into the next step and fail it.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { beyondTick } from './metrics';
import { cpuPerSend, loadCpuPercent, runLoads, type PairedSide } from './paired';
import type { EnginePaced } from './engine';
import { POSTGRES_BACKGROUND, startCpuPressure, startProbes, type CpuProbe } from './proc-cpu';
import { round } from './stats';

export const SEARCH_P99_LIMIT_MS = 50;
/** Runs of a failing step before it counts as failed. */
const ATTEMPTS = 2;
const DOUBLINGS = 8;
const HALVINGS = 4;
const BISECTIONS = 4;
const BISECT_UNTIL = 1.07;

export interface SearchStep {
  rate: number;
  /** 0 for the warm-up step (not counted), then 1, 2 for a repeated step. */
  attempt: number;
  pass: boolean;
  ackP99: number | null;
  ackedPerSecond: number;
  deliveredPerSecond: number;
  lost: number;
  ackErrors: number;
  ackTimeouts: number;
  eventLoopP99Ms?: number;
  /** The target's main thread busy time over the sending, in % of one core. */
  mainCpuPercent: number | null;
  cpuUsPerSend: Record<string, number>;
  /** The machine's CPU pressure during the step, in % (bench/proc-cpu.ts). */
  cpuPressure: number | null;
  /** The database alone, group commit, measured right after this step (the app's search only). */
  engineGroupedPerSecond?: number;
  /** How long the target took to settle after the step (`settle`), in ms. */
  settleMs?: number;
  /** The load process's CPU over the step, in % of one core. */
  loadCpuPercent?: number;
  /** The app's own view of the step's sends (bench/metrics.ts `appSendCounters`): where the slow acks came from. */
  server?: ServerView;
}

/** Of the step's sends, in %: acks the client waited over 50 ms for, events the app took over 50 ms, transactions. */
export interface ServerView {
  acksOver50msPercent: number;
  eventsOver50msPercent: number;
  transactionsOver50msPercent: number;
  /** Mean ms from a send's arrival to its ack, in the app. */
  meanEventMs: number | null;
  /** Mean ms of the group transaction a send was in. With one group at a time a send can wait for the group before
   * its own: about twice this at worst. */
  meanTransactionMs: number | null;
  meanGroupSize: number | null;
}

function serverView(chat: any, c: Record<string, number> | undefined): ServerView | undefined {
  if (!c || !(c.sendEvents > 0)) {
    return undefined;
  }
  const pct = (n: number, of: number): number => round((100 * n) / Math.max(1, of), 2);
  return {
    acksOver50msPercent: pct(chat.acksOver50ms as number, chat.acked as number),
    eventsOver50msPercent: pct(c.sendEventsOver50ms, c.sendEvents),
    transactionsOver50msPercent: pct(c.groupedCallsOver50ms, c.groupedCalls),
    meanEventMs: round((1000 * c.sendEventSeconds) / c.sendEvents, 1),
    meanTransactionMs: c.groupedCalls > 0 ? round((1000 * c.groupedCallSeconds) / c.groupedCalls, 1) : null,
    meanGroupSize: c.groups > 0 ? round(c.groupedSends / c.groups, 1) : null,
  };
}

/** The target is settled when its threads and processes use less than this share of one core... */
const SETTLED_SHARE = 0.1;
/** ...over this window... */
const SETTLE_WINDOW_MS = 300;
/** ...or after this long at most. */
const SETTLE_MAX_MS = 30_000;

/**
 * Waits until the target is quiet: its threads and processes (a PostgreSQL server's backends too, not its background
 * processes: an autovacuum after a step is the server's own business) use less than 10 % of a core over 300 ms, at
 * most 30 s. Returns how long it took, in ms.
 */
export async function settle(cpu: CpuProbe[]): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < SETTLE_MAX_MS) {
    const end = startProbes(cpu);
    await sleep(SETTLE_WINDOW_MS);
    const busyMs = Object.entries(end())
      .filter(([name]) => name !== POSTGRES_BACKGROUND)
      .reduce((a, [, v]) => a + v, 0);
    if (busyMs < SETTLED_SHARE * SETTLE_WINDOW_MS) {
      break;
    }
  }
  return Math.round(performance.now() - started);
}

export interface SearchResult {
  warmup: SearchStep;
  best: SearchStep | null;
  firstFail: SearchStep | null;
  /** Every counted attempt, in order. */
  steps: SearchStep[];
}

/** A turn-taker: each call waits for the previous one to finish, so searches sharing it alternate steps. */
export function takingTurns(): <T>(fn: () => Promise<T>) => Promise<T> {
  let last: Promise<unknown> = Promise.resolve();
  return <T>(fn: () => Promise<T>): Promise<T> => {
    const run = last.then(fn);
    last = run.catch(() => undefined);
    return run;
  };
}

/** One step of `side` at `rate` for `seconds`, in its turn; `after` runs in the same turn (an engine measurement). */
/** Announces a step and runs it, reading the machine's CPU pressure over it. */
async function timedStep<T>(
  name: string,
  rate: number,
  attempt: number,
  seconds: number,
  run: () => Promise<T>,
): Promise<{ result: T; cpuPressure: number | null }> {
  console.log(`bench: ${name}: search step ${rate}/s for ${seconds} s${attempt > 1 ? ' (again)' : ''}`);
  const pressure = startCpuPressure();
  const result = await run();
  return { result, cpuPressure: pressure() };
}

/** The pass criterion, one for every target: p99 ack under the limit, nothing lost or failed, >= 95 % acked. */
export function passes(
  rate: number,
  r: Pick<SearchStep, 'ackP99' | 'lost' | 'ackErrors' | 'ackTimeouts' | 'ackedPerSecond'>,
): boolean {
  return (
    r.ackP99 !== null &&
    r.ackP99 < SEARCH_P99_LIMIT_MS &&
    r.lost === 0 &&
    r.ackErrors + r.ackTimeouts === 0 &&
    r.ackedPerSecond >= 0.95 * rate
  );
}

export function stepRunner(
  side: PairedSide,
  seconds: number,
  turn: ReturnType<typeof takingTurns>,
  after?: () => Promise<number>,
): (rate: number, attempt: number) => Promise<SearchStep> {
  return (rate, attempt) =>
    turn(async () => {
      const { result: run, cpuPressure } = await timedStep(
        side.name,
        rate,
        attempt,
        seconds,
        async () => (await runLoads([side], rate, seconds))[side.name],
      );
      const r = run.chat;
      const counts = {
        ackP99: r.ackMs.p99,
        ackedPerSecond: r.ackedPerSecond,
        lost: r.lost,
        ackErrors: r.ackErrors,
        ackTimeouts: r.ackTimeouts,
      };
      const step: SearchStep = {
        rate,
        attempt,
        pass: passes(rate, counts),
        ...counts,
        deliveredPerSecond: r.deliveredPerSecond,
        eventLoopP99Ms: beyondTick(run.eventLoop?.p99Ms),
        mainCpuPercent: run.cpuMs.main === undefined ? null : round((100 * run.cpuMs.main) / r.windowMs, 0),
        cpuUsPerSend: cpuPerSend(run),
        cpuPressure,
        loadCpuPercent: loadCpuPercent(r),
        server: serverView(r, run.counters),
      };
      // The target's backlog, if any, is worked off before anything else is measured.
      step.settleMs = await settle(side.cpu);
      if (after) {
        step.engineGroupedPerSecond = await after();
      }
      return step;
    });
}

/** A paced run of the database alone (bench/engine.ts `pace`) in the terms of `passes`. */
export function pacedCounts(r: EnginePaced): Parameters<typeof passes>[1] {
  return {
    ackP99: r.ackMs.p99,
    // The window runs until the last answer: a backlog lowers the rate, it does not hide.
    ackedPerSecond: round(r.acked / (r.windowMs / 1000), 1),
    // A send neither answered nor failed: pace waits for every one, so none.
    lost: r.sent - r.acked - r.errors,
    ackErrors: r.errors,
    ackTimeouts: 0,
  };
}

/**
 * One step of the database alone (bench/engine.ts `pace`: group commit, the app's path, the same open loop on a 2 ms
 * tick), in its turn, passing by the app's criterion. Its highest rate is the app's fair bound: the app's database
 * calls go through the same group commit, and an ack can come no sooner than its call's answer.
 */
export function paceStepRunner(
  pace: (rate: number, seconds: number) => Promise<EnginePaced>,
  seconds: number,
  turn: ReturnType<typeof takingTurns>,
): (rate: number, attempt: number) => Promise<SearchStep> {
  return (rate, attempt) =>
    turn(async () => {
      const { result: r, cpuPressure } = await timedStep('database alone', rate, attempt, seconds, () =>
        pace(rate, seconds),
      );
      const counts = pacedCounts(r);
      return {
        rate,
        attempt,
        pass: passes(rate, counts),
        ...counts,
        deliveredPerSecond: 0,
        mainCpuPercent: r.cpuMs.main === undefined ? null : round((100 * r.cpuMs.main) / r.windowMs, 0),
        cpuUsPerSend: Object.fromEntries(
          Object.entries(r.cpuMs).map(([k, v]) => [k, r.acked > 0 ? Math.round((1000 * v) / r.acked) : 0]),
        ),
        cpuPressure,
      };
    });
}

export async function searchRate(
  start: number,
  tryRate: (rate: number, attempt: number) => Promise<SearchStep>,
): Promise<SearchResult> {
  const warmup = await tryRate(start, 0);
  const steps: SearchStep[] = [];
  const step = async (rate: number): Promise<SearchStep> => {
    for (let attempt = 1; ; attempt++) {
      const s = await tryRate(rate, attempt);
      steps.push(s);
      if (s.pass || attempt >= ATTEMPTS) {
        return s;
      }
    }
  };
  let best: SearchStep | null = null;
  let firstFail: SearchStep | null = null;
  for (let i = 0, rate = start; i < DOUBLINGS; i++, rate *= 2) {
    const s = await step(rate);
    if (!s.pass) {
      firstFail = s;
      break;
    }
    best = s;
  }
  // The first step failed: halve until one passes (a slow or busy machine).
  for (let rate = Math.floor(start / 2), i = 0; !best && rate >= 1 && i < HALVINGS; rate = Math.floor(rate / 2), i++) {
    const s = await step(rate);
    if (s.pass) {
      best = s;
    } else {
      firstFail = s;
    }
  }
  for (let i = 0; i < BISECTIONS && best && firstFail && firstFail.rate / best.rate > BISECT_UNTIL; i++) {
    const s = await step(Math.round((best.rate + firstFail.rate) / 2));
    if (s.pass) {
      best = s;
    } else {
      firstFail = s;
    }
  }
  return { warmup, best, firstFail, steps };
}
