/**
 * The `floor` phase: the database alone at the app's offered rate, beside the relay, at the same time (the engine
 * process of bench/engine.ts, sends through group commit as the app makes them; the relay under its own load), after
 * a warm-up, repeated. Every ack of the app waits for its send's database call, and the app's main thread does at
 * least the relay's Socket.IO work plus the database client's, so these are bounds no change to the app can beat:
 * - app p50 (p99) / relay p50 (p99) is at least database alone p50 (p99) / relay p50 (p99);
 * - app main-thread CPU / relay's is at least (relay's + the database client's) / relay's, the database client's
 *   being the engine process's main thread less its pacing loop (the same tick without sends, measured after each
 *   repeat). This one is an estimate, not exact: a thread's CPU per send also depends on how busy its process is.
 * Where a bound is above the issue's target, the target is out of reach on that database on this machine.
 */
import type { EnginePaced } from './engine';
import type { EngineChild } from './engine-phase';
import { formatSpread, runLoads, type PairedSide, type SideRun } from './paired';
import { startCpuPressure } from './proc-cpu';
import { round, spread, type Spread } from './stats';

export interface FloorRepeat {
  database: EnginePaced;
  relay: SideRun;
  cpuPressure: number | null;
}

export interface FloorResult {
  db: string;
  rate: number;
  durationS: number;
  warmupS: number;
  repeats: FloorRepeat[];
}

export async function runFloorPhase(
  engine: EngineChild,
  relay: PairedSide,
  opts: { db: string; rate: number; durationS: number; warmupS: number; repeats: number },
): Promise<FloorResult> {
  const once = async (durationS: number): Promise<FloorRepeat> => {
    const pressure = startCpuPressure();
    let database: Promise<EnginePaced> | undefined;
    const runs = await runLoads([relay], opts.rate, durationS, () => {
      database = engine.pace(opts.rate, durationS);
    });
    return { database: await database!, relay: runs[relay.name], cpuPressure: pressure() };
  };
  console.log(
    `bench: the ${opts.db} database alone and the relay at once: warm-up, ${opts.rate}/s for ${opts.warmupS} s`,
  );
  await once(opts.warmupS);
  const repeats: FloorRepeat[] = [];
  for (let i = 0; i < opts.repeats; i++) {
    console.log(`bench: the database alone and the relay at once: repeat ${i + 1}/${opts.repeats}`);
    repeats.push(await once(opts.durationS));
  }
  return { db: opts.db, rate: opts.rate, durationS: opts.durationS, warmupS: opts.warmupS, repeats };
}

interface FloorRow {
  figure: string;
  database: Spread;
  relay: Spread;
  ratio: Spread;
}

const perSend = (ms: number | undefined, sends: number): number | null =>
  ms === undefined ? null : Math.round((ms * 1000) / Math.max(1, sends));

/** The phase's figures: each side's median [min–max] over the repeats, and their ratio within each repeat. */
export function floorRows(r: FloorResult): FloorRow[] {
  const row = (
    figure: string,
    db: (x: FloorRepeat) => number | null,
    relay: (x: FloorRepeat) => number | null,
  ): FloorRow => ({
    figure,
    database: spread(r.repeats.map(db)),
    relay: spread(r.repeats.map(relay)),
    ratio: spread(
      r.repeats.map((x) => {
        const a = db(x);
        const b = relay(x);
        return a !== null && b !== null && b > 0 ? round(a / b) : null;
      }),
    ),
  });
  const relayMain = (x: FloorRepeat): number | null => perSend(x.relay.cpuMs.main, x.relay.chat.acked);
  const dbMain = (x: FloorRepeat): number | null => perSend(x.database.cpuMs.main, x.database.acked);
  // The database client alone: the engine process's main thread less its pacing loop (measured without sends).
  const clientMain = (x: FloorRepeat): number | null =>
    x.database.cpuMs.main === undefined
      ? null
      : perSend(
          Math.max(0, x.database.cpuMs.main - (x.database.tickMainMsPerS ?? 0) * (x.database.windowMs / 1000)),
          x.database.acked,
        );
  return [
    row(
      'send→ack p50 ms',
      (x) => x.database.ackMs.p50,
      (x) => x.relay.chat.ackMs.p50,
    ),
    row(
      'send→ack p95 ms',
      (x) => x.database.ackMs.p95,
      (x) => x.relay.chat.ackMs.p95,
    ),
    row(
      'send→ack p99 ms',
      (x) => x.database.ackMs.p99,
      (x) => x.relay.chat.ackMs.p99,
    ),
    row('CPU µs per send: main', dbMain, relayMain),
    row(
      'CPU µs per send: engine',
      (x) => perSend(x.database.cpuMs.engine, x.database.acked),
      () => null,
    ),
    row('CPU µs per send: main, less the pacing loop', clientMain, relayMain),
    // The app's main thread does the relay's part and the database client's: its lowest ratio to the relay's.
    row(
      'main-thread bound: relay + database client',
      (x) => {
        const a = clientMain(x);
        const b = relayMain(x);
        return a !== null && b !== null ? a + b : null;
      },
      relayMain,
    ),
  ];
}

export function printFloor(r: FloorResult | undefined): void {
  if (!r) {
    return;
  }
  const rows = floorRows(r).filter((row) => row.database.median !== null);
  const head = ['figure', 'database alone', 'relay', 'database / relay'];
  const cells = rows.map((row) => [
    row.figure,
    formatSpread(row.database),
    formatSpread(row.relay),
    formatSpread(row.ratio),
  ]);
  const w = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]): string => c.map((x, i) => (i === 0 ? x.padEnd(w[i]) : x.padStart(w[i]))).join(' | ');
  console.log(
    `\nfloor: the ${r.db} database alone (group commit, the app's path) and the relay at ${r.rate} sends/s each, at ` +
      `once, median [min–max] of ${r.repeats.length} x ${r.durationS} s after a ${r.warmupS} s warm-up`,
  );
  console.log(line(head));
  console.log(w.map((n) => '-'.repeat(n)).join('-+-'));
  cells.forEach((c) => console.log(line(c)));
  const errors = r.repeats.reduce((n, x) => n + x.database.errors, 0);
  console.log(
    `machine CPU pressure per repeat: ${r.repeats.map((x) => (x.cpuPressure === null ? '—' : `${x.cpuPressure} %`)).join(', ')}; ` +
      `database errors ${errors}. The app's ratios cannot be below these: every ack waits for its database call, and ` +
      `its main thread does the relay's work and the database client's.`,
  );
}

/** The bounds the phase sets on the issue's ratios: p50, p99 and main-thread CPU, app / relay at best. */
export function floorBounds(r: FloorResult): { p50: number | null; p99: number | null; main: number | null } {
  const rows = floorRows(r);
  const at = (figure: string): number | null => rows.find((row) => row.figure === figure)?.ratio.median ?? null;
  return {
    p50: at('send→ack p50 ms'),
    p99: at('send→ack p99 ms'),
    main: at('main-thread bound: relay + database client'),
  };
}
