/**
 * The `engine` phase: the database alone (bench/engine.ts in its own process), one transaction per send against
 * group commit, each measurement repeated with the three kinds taking turns, so that a slow minute of the machine
 * weighs on all three alike. The engine process stays up for the rate search, which measures the group-commit rate
 * again between the app's steps (the app's highest rate is compared with it).
 */
import type { GroupCommitOptions } from '../src/modules/persistence/drivers/group-commit';
import type { EngineMeasure, EnginePace, EnginePaced, EngineRate } from './engine';
import { LineChild } from './line-protocol';
import { spread, type Spread } from './stats';

export interface EngineConfig {
  db: 'embedded' | 'postgres';
  /** A fresh database for it (postgres). */
  url?: string;
  /** The app's build: `<root>/dist`. */
  dist: string;
  /** Group commit on a PostgreSQL server: the app's own when not given. */
  groupCommit?: GroupCommitOptions;
}

export class EngineChild {
  private readonly child: LineChild;

  private constructor(child: LineChild) {
    this.child = child;
  }

  static async start(cfg: EngineConfig): Promise<EngineChild> {
    const child = new LineChild('engine.js', [JSON.stringify(cfg)]);
    try {
      await child.next(300_000);
    } catch (err) {
      await child.stop();
      throw err;
    }
    return new EngineChild(child);
  }

  /** The engine process's pid (its CPU, its settling). */
  get pid(): number {
    return this.child.pid;
  }

  measure(how: EngineMeasure['how'], window: number, sends: number): Promise<EngineRate> {
    return this.child.request<EngineRate>({ cmd: 'measure', how, window, sends } satisfies EngineMeasure, 600_000);
  }

  /** Sends offered at `rate` per second for `durationS` s, through group commit: their latencies and CPU. */
  pace(rate: number, durationS: number): Promise<EnginePaced> {
    return this.child.request<EnginePaced>(
      { cmd: 'pace', rate, durationS } satisfies EnginePace,
      (durationS + 120) * 1000,
    );
  }

  /** Closes the database (and removes its data dir) and ends the process. */
  close(): Promise<void> {
    return this.child.finish({ cmd: 'quit' }, 30_000);
  }
}

export interface EngineResult {
  db: string;
  sends: number;
  window: number;
  repeats: number;
  alonePerSecond: Spread;
  aloneConcurrentPerSecond: Spread;
  groupedPerSecond: Spread;
  meanGroupSize: Spread;
  /** Each repeat: one at a time, `window` in flight, grouped. */
  runs: { alone: EngineRate; concurrent: EngineRate; grouped: EngineRate }[];
}

export async function runEnginePhase(
  engine: EngineChild,
  opts: { db: string; sends: number; window: number; repeats: number },
): Promise<EngineResult> {
  // A warm-up pass first (plans, JIT), not counted.
  await engine.measure('callGrouped', opts.window, opts.sends);
  const runs: EngineResult['runs'] = [];
  for (let i = 0; i < opts.repeats; i++) {
    runs.push({
      alone: await engine.measure('call', 1, opts.sends),
      concurrent: await engine.measure('call', opts.window, opts.sends),
      grouped: await engine.measure('callGrouped', opts.window, opts.sends),
    });
  }
  return {
    db: opts.db,
    sends: opts.sends,
    window: opts.window,
    repeats: opts.repeats,
    alonePerSecond: spread(runs.map((r) => r.alone.perSecond)),
    aloneConcurrentPerSecond: spread(runs.map((r) => r.concurrent.perSecond)),
    groupedPerSecond: spread(runs.map((r) => r.grouped.perSecond)),
    meanGroupSize: spread(runs.map((r) => r.grouped.meanGroupSize)),
    runs,
  };
}
