/**
 * `npm run bench:group-commit [-- flags]`: group-commit settings on a PostgreSQL server, compared on the database
 * alone. Each setting (`maxSize/maxInFlight`: sends per group at most, groups at once in lanes that share no room)
 * runs the app's driver from `dist/` in its own engine process (bench/engine.ts) on its own database of one durable
 * server, and is offered the same open-loop sends as the app's load offers it (`pace`: 5 rooms, a 2 ms tick). At each
 * rate the settings take turns, round after round, the order turning each round, so that a slow moment of this shared
 * machine weighs on every setting alike; every engine and the server's backends settle between steps. This is how the
 * server's `SERVER_GROUP_COMMIT` (pg.database.ts) and the default of DATABASE_GROUP_LANES were chosen: bench/README.md
 * "Group commit on a server" and "… lanes".
 *
 * Flags (defaults in brackets):
 *   --settings LIST   comma-separated maxSize/maxInFlight pairs [50/1,50/2,50/4]
 *   --rates LIST      comma-separated offered sends/s [1200,1600,2000,2400]
 *   --rounds N        rounds of every rate and setting [3]
 *   --seconds S       seconds per step [5]
 *   --unsafe          the server without fsync, full_page_writes and synchronous_commit
 *   --out FILE        the results' JSON [bench/results/group-commit-<start time>.json]
 */
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { GroupCommitOptions } from '../src/modules/persistence/drivers/group-commit';
import { createDatabase } from '../test/support/postgres-server';
import { EngineChild } from './engine-phase';
import { startBenchPostgres } from './postgres';
import { writeResults } from './results-file';
import { nodeProcessProbe, postgresProbe } from './proc-cpu';
import { pacedCounts, passes, SEARCH_P99_LIMIT_MS, settle } from './rate-search';
import { spread, type Spread } from './stats';
import { formatSpread } from './paired';

const ROOT = join(__dirname, '..', '..', '..');

interface Flags {
  settings: GroupCommitOptions[];
  rates: number[];
  rounds: number;
  seconds: number;
  unsafe: boolean;
  out?: string;
}

interface Step {
  setting: string;
  rate: number;
  round: number;
  ackP50: number | null;
  ackP99: number | null;
  ackedPerSecond: number;
  errors: number;
  /** The search's criterion (bench/rate-search.ts `passes`): p99 under 50 ms, every send answered, >= 95 % acked. */
  pass: boolean;
}

function wholeNumber(v: string, name: string, min: number, max: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new Error(`--${name} takes whole numbers in ${min}..${max}`);
  }
  return n;
}

function parseFlags(args: string[]): Flags {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      settings: { type: 'string', default: '50/1,50/2,50/4' },
      rates: { type: 'string', default: '1200,1600,2000,2400' },
      rounds: { type: 'string', default: '3' },
      seconds: { type: 'string', default: '5' },
      unsafe: { type: 'boolean', default: false },
      out: { type: 'string' },
    },
  });
  const list = (name: 'settings' | 'rates'): string[] => {
    const items = values[name].split(',').filter(Boolean);
    if (items.length === 0) {
      throw new Error(`--${name} takes a comma-separated list`);
    }
    return items;
  };
  return {
    settings: list('settings').map((pair) => {
      const [size, inFlight, ...rest] = pair.split('/');
      if (inFlight === undefined || rest.length > 0) {
        throw new Error(`--settings takes maxSize/maxInFlight pairs, not ${pair}`);
      }
      return {
        maxSize: wholeNumber(size, 'settings', 1, 10_000),
        maxInFlight: wholeNumber(inFlight, 'settings', 1, 100),
      };
    }),
    rates: list('rates').map((r) => wholeNumber(r, 'rates', 1, 100_000)),
    rounds: wholeNumber(values.rounds, 'rounds', 1, 50),
    seconds: wholeNumber(values.seconds, 'seconds', 1, 600),
    unsafe: values.unsafe,
    out: values.out === undefined ? undefined : resolve(values.out),
  };
}

const label = (s: GroupCommitOptions): string => `${s.maxSize}/${s.maxInFlight}`;

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2));
  const startedAt = new Date();
  const pg = await startBenchPostgres(!flags.unsafe);
  const engines: { setting: GroupCommitOptions; engine: EngineChild; database: string }[] = [];
  const steps: Step[] = [];
  try {
    for (const [i, setting] of flags.settings.entries()) {
      const database = `bench_group_commit_${i}`;
      const url = await createDatabase(pg.url, database);
      console.log(`bench: group commit ${label(setting)}: its engine process on database ${database}`);
      engines.push({
        setting,
        database,
        engine: await EngineChild.start({ db: 'postgres', url, dist: join(ROOT, 'dist'), groupCommit: setting }),
      });
    }
    const cpu = engines.flatMap(({ engine, database }) => [
      nodeProcessProbe(engine.pid),
      postgresProbe(pg.pid(), database, false),
    ]);
    // A warm-up step each (plans, JIT), not counted.
    for (const { engine } of engines) {
      await engine.pace(flags.rates[0], flags.seconds);
      await settle(cpu);
    }
    for (let round_ = 1; round_ <= flags.rounds; round_++) {
      for (const rate of flags.rates) {
        // The order turns each round: no setting always runs first (or right after the heaviest).
        const order = engines.map((_, k) => engines[(k + round_ + rate) % engines.length]);
        for (const { setting, engine } of order) {
          console.log(`bench: round ${round_}/${flags.rounds}: ${label(setting)} at ${rate}/s for ${flags.seconds} s`);
          const r = await engine.pace(rate, flags.seconds);
          const counts = pacedCounts(r);
          steps.push({
            setting: label(setting),
            rate,
            round: round_,
            ackP50: r.ackMs.p50,
            ackP99: r.ackMs.p99,
            ackedPerSecond: counts.ackedPerSecond,
            errors: r.errors,
            pass: passes(rate, counts),
          });
          await settle(cpu);
        }
      }
    }
  } finally {
    for (const { engine } of engines) {
      await engine
        .close()
        .catch((err: unknown) => process.stderr.write(`bench: engine close failed: ${String(err)}\n`));
    }
    await pg.stop();
  }

  const table: Record<string, Record<string, { p99: Spread; ackedPerSecond: Spread; passes: string }>> = {};
  console.log(
    `\nGroup commit on a PostgreSQL server (${flags.unsafe ? 'unsafe' : 'durable'}), the database alone, open loop, ` +
      `${flags.rounds} rounds of ${flags.seconds} s: p99 ack ms and acked/s, median [min–max]; passes at p99 < ` +
      `${SEARCH_P99_LIMIT_MS} ms`,
  );
  for (const rate of flags.rates) {
    table[rate] = {};
    const cells: string[] = [];
    for (const setting of flags.settings.map(label)) {
      const mine = steps.filter((s) => s.rate === rate && s.setting === setting);
      const cell = {
        p99: spread(mine.map((s) => s.ackP99)),
        ackedPerSecond: spread(mine.map((s) => s.ackedPerSecond)),
        passes: `${mine.filter((s) => s.pass).length}/${mine.length}`,
      };
      table[rate][setting] = cell;
      cells.push(
        `${setting}: p99 ${formatSpread(cell.p99, 0)}, ${formatSpread(cell.ackedPerSecond, 0)}/s, ${cell.passes} pass`,
      );
    }
    console.log(`  ${String(rate).padStart(6)}/s offered | ${cells.join(' | ')}`);
  }
  writeResults({ startedAt: startedAt.toISOString(), flags, postgres: pg.settings, table, steps }, startedAt, {
    kind: 'group-commit',
    out: flags.out,
  });
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
