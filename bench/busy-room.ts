/**
 * `npm run bench:busy-room [-- flags]`: what a send costs a PostgreSQL server when its commit group holds many sends
 * into one room, against the same sends spread over many rooms. The app's driver (`dist/`, group commit as on a
 * server, one lane) runs in this process against a durable throwaway server; bursts of `--sends` sends, by the 5
 * members of one room or spread over `--rooms` rooms of 5 members each (one send per room per group when the burst is
 * `--rooms` × a group's size), take turns round after round, the order turning each round, after a warm-up round and
 * an ANALYZE (as a server's autovacuum would have run by then).
 * Per burst: the server's backends' CPU per send (/proc), the burst's wall time, the MultiXact IDs it allocated
 * (`mxid_age(datminmxid)` before and after: several subtransactions of one group locking one row make them) and its
 * WAL bytes per send. bench/README.md "Group commit on a server: lanes" reads them.
 *
 * Flags (defaults in brackets):
 *   --rounds N   measured rounds [8]
 *   --sends N    sends per burst [500]
 *   --rooms N    rooms the spread burst goes over [50]
 *   --out FILE   the results' JSON [bench/results/busy-room-<start time>.json]
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { SERVICE_ACTOR, userActor, type UserActor } from '../src/modules/persistence/database.port';
import { PgDatabase, SERVER_GROUP_COMMIT } from '../src/modules/persistence/drivers/pg.database';
import { runMigrations } from '../src/modules/persistence/migration-runner';
import { createDatabase } from '../test/support/postgres-server';
import { formatSpread } from './paired';
import { startBenchPostgres } from './postgres';
import { postgresProbe } from './proc-cpu';
import { writeResults } from './results-file';
import { spread, type Spread } from './stats';

const ROOT = join(__dirname, '..', '..', '..');
const MEMBERS = 5;

interface Room {
  id: string;
  members: UserActor[];
}

interface Burst {
  backendUsPerSend: number;
  ms: number;
  multiXactsPerSend: number;
  walBytesPerSend: number;
}

const VARIANTS = ['one room', 'spread'] as const;
type Variant = (typeof VARIANTS)[number];

function wholeNumber(value: string, name: string, min: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) {
    throw new Error(`--${name} takes a whole number of at least ${min}`);
  }
  return n;
}

async function makeRoom(db: PgDatabase, tag: string): Promise<Room> {
  const members: UserActor[] = [];
  for (let i = 0; i < MEMBERS; i += 1) {
    const [profile] = await db.call<{ id: string }>(SERVICE_ACTOR, 'local_register', {
      p_username: `${tag}_${i}`,
      p_display_name: tag,
      p_password_hash: 'x',
    });
    members.push(userActor(profile.id));
  }
  const [room] = await db.call<{ id: string }>(members[0], 'create_room', {
    p_name: tag,
    p_visibility: 'private',
    p_ai_mode: 'off',
    p_ai_system_prompt: null,
    p_ai_model: null,
  });
  for (let i = 1; i < MEMBERS; i += 1) {
    await db.call(members[0], 'add_member', { p_room_id: room.id, p_username: `${tag}_${i}` });
  }
  return { id: room.id, members };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    strict: true,
    options: {
      rounds: { type: 'string', default: '8' },
      sends: { type: 'string', default: '500' },
      rooms: { type: 'string', default: '50' },
      out: { type: 'string' },
    },
  });
  const flags = {
    rounds: wholeNumber(values.rounds, 'rounds', 1),
    sends: wholeNumber(values.sends, 'sends', 1),
    rooms: wholeNumber(values.rooms, 'rooms', 2),
    out: values.out,
  };
  const startedAt = new Date();
  const pg = await startBenchPostgres(true);
  const url = await createDatabase(pg.url, 'busy_room');
  const db = new PgDatabase('postgres', { connectionString: url, max: 10 }, undefined, SERVER_GROUP_COMMIT);
  try {
    await runMigrations(db, join(ROOT, 'migrations'));
    const busy = await makeRoom(db, 'busy');
    const rooms: Room[] = [];
    for (let r = 0; r < flags.rooms; r += 1) {
      rooms.push(await makeRoom(db, `room${r}`));
    }
    const [{ name }] = await db.query<{ name: string }>('select current_database() as name');
    const multiXactAge = async (): Promise<number> =>
      Number(
        (
          await db.query<{ age: string }>('select mxid_age(datminmxid) as age from pg_database where datname = $1', [
            name,
          ])
        )[0].age,
      );
    const walLsn = async (): Promise<string> =>
      (await db.query<{ lsn: string }>('select pg_current_wal_lsn()::text as lsn'))[0].lsn;
    let sent = 0;
    const send = (room: Room, member: number): Promise<unknown> =>
      db.callGrouped(room.members[member], 'post_message', {
        p_room_id: room.id,
        p_content: `message ${sent} of the burst, an ordinary line of chat`,
        p_client_id: `c${(sent += 1)}`,
      });
    const bursts: Record<Variant, () => Promise<unknown>> = {
      'one room': () => Promise.all(Array.from({ length: flags.sends }, (_, i) => send(busy, i % MEMBERS))),
      spread: () =>
        Promise.all(
          Array.from({ length: flags.sends }, (_, i) =>
            send(rooms[i % flags.rooms], Math.floor(i / flags.rooms) % MEMBERS),
          ),
        ),
    };
    const measured: Record<Variant, Burst[]> = { 'one room': [], spread: [] };
    for (let round = 0; round <= flags.rounds; round += 1) {
      const order = round % 2 === 0 ? [...VARIANTS] : [...VARIANTS].reverse();
      for (const variant of order) {
        const cpu = postgresProbe(pg.pid(), name, false).start();
        const [mx0, wal0] = [await multiXactAge(), await walLsn()];
        const t0 = performance.now();
        await bursts[variant]();
        const ms = performance.now() - t0;
        const backendMs = cpu()['postgres backends'] ?? 0;
        const [mx1, wal1] = [await multiXactAge(), await walLsn()];
        const [{ bytes }] = await db.query<{ bytes: string }>('select pg_wal_lsn_diff($1, $2) as bytes', [wal1, wal0]);
        if (round === 0 && variant === order[order.length - 1]) {
          // What a server's autovacuum does within its first minute (autovacuum_naptime): the rooms and their first
          // messages counted, so no plan made on the empty tables lasts into the measured rounds.
          await db.query('analyze');
        }
        if (round > 0) {
          measured[variant].push({
            backendUsPerSend: (backendMs * 1000) / flags.sends,
            ms,
            multiXactsPerSend: (mx1 - mx0) / flags.sends,
            walBytesPerSend: Number(bytes) / flags.sends,
          });
        }
      }
    }
    const table = Object.fromEntries(
      VARIANTS.map((variant) => [
        variant,
        Object.fromEntries(
          (['backendUsPerSend', 'ms', 'multiXactsPerSend', 'walBytesPerSend'] as const).map((key) => [
            key,
            spread(measured[variant].map((b) => b[key])),
          ]),
        ) as Record<keyof Burst, Spread>,
      ]),
    ) as Record<Variant, Record<keyof Burst, Spread>>;
    const ratio = spread(measured['one room'].map((b, i) => b.backendUsPerSend / measured.spread[i].backendUsPerSend));
    console.log(
      `\nbursts of ${flags.sends} sends, durable PostgreSQL, one lane; median [min–max] of ${flags.rounds} rounds taking turns`,
    );
    console.log('burst        | backend µs per send | ms per burst   | MultiXact IDs per send | WAL bytes per send');
    for (const variant of VARIANTS) {
      const row = table[variant];
      const label = variant === 'spread' ? `${flags.rooms} rooms` : variant;
      console.log(
        `${label.padEnd(12)} | ${formatSpread(row.backendUsPerSend, 0).padEnd(19)} | ${formatSpread(row.ms, 0).padEnd(14)} | ${formatSpread(row.multiXactsPerSend).padEnd(22)} | ${formatSpread(row.walBytesPerSend, 0)}`,
      );
    }
    console.log(`backend CPU per send, one room / ${flags.rooms} rooms, per round: ${formatSpread(ratio)}`);
    writeResults(
      { startedAt: startedAt.toISOString(), flags, postgres: pg.settings, table, ratio, measured },
      startedAt,
      {
        kind: 'busy-room',
        out: flags.out,
      },
    );
  } finally {
    await db.close();
    await pg.stop();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
