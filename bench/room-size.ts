/**
 * `npm run bench:room-size [-- flags]`: whether a send into a big room costs more than one into a small room, on the
 * embedded engine as the server runs it (its checkpoints and statistics, embedded-analyze.ts). A fresh data directory
 * in a temporary directory; one member sends into a big room and a small one through the app's driver (group commit,
 * as the gateway sends). The big room is filled by bursts of grouped sends up to each of `--sizes`; at each size,
 * `--sends` sends one at a time into the big room and into the small one take turns `--rounds` times. Printed: µs per
 * send (wall, one at a time: the engine's work and its WAL sync), median [min–max] per room and their ratio. Before the
 * server analyzed grown tables, a send's duplicate check scanned its room (bench/README.md "Busy rooms").
 *
 * Flags (defaults in brackets):
 *   --sizes LIST   messages in the big room at which to measure [2000,8000,20000]
 *   --sends N      sends one at a time per room and round [50]
 *   --rounds N     rounds at each size [3]
 *   --out FILE     the results' JSON [bench/results/room-size-<start time>.json]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { SERVICE_ACTOR, userActor } from '../src/modules/persistence/database.port';
import { runMigrations } from '../src/modules/persistence/migration-runner';
import { formatSpread } from './paired';
import { writeResults } from './results-file';
import { spread } from './stats';

const ROOT = join(__dirname, '..', '..', '..');
const BURST = 200;

// The built server's driver: its worker thread file lives in dist/, not in bench/dist/.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { startEmbeddedDatabase } = require(
  join(ROOT, 'dist/modules/persistence/drivers/embedded.database.js'),
) as typeof import('../src/modules/persistence/drivers/embedded.database');

function wholeNumbers(value: string, name: string): number[] {
  const numbers = value.split(',').map(Number);
  if (numbers.some((n) => !Number.isInteger(n) || n < 1)) {
    throw new Error(`--${name} takes whole numbers of at least 1, not ${value}`);
  }
  return numbers;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    strict: true,
    options: {
      sizes: { type: 'string', default: '2000,8000,20000' },
      sends: { type: 'string', default: '50' },
      rounds: { type: 'string', default: '3' },
      out: { type: 'string' },
    },
  });
  const flags = {
    sizes: wholeNumbers(values.sizes, 'sizes').sort((a, b) => a - b),
    sends: wholeNumbers(values.sends, 'sends')[0],
    rounds: wholeNumbers(values.rounds, 'rounds')[0],
    out: values.out,
  };
  const startedAt = new Date();
  const dataDir = await mkdtemp(join(tmpdir(), 'bench-room-size-'));
  const db = await startEmbeddedDatabase(dataDir);
  try {
    await runMigrations(db, join(ROOT, 'migrations'));
    const [member] = await db.call<{ id: string }>(SERVICE_ACTOR, 'local_register', {
      p_username: 'room_size',
      p_display_name: 'Room size',
      p_password_hash: 'x',
    });
    const actor = userActor(member.id);
    const makeRoom = async (name: string): Promise<string> => {
      const [room] = await db.call<{ id: string }>(actor, 'create_room', {
        p_name: name,
        p_visibility: 'private',
        p_ai_mode: 'off',
        p_ai_system_prompt: null,
        p_ai_model: null,
      });
      return room.id;
    };
    const rooms = { big: await makeRoom('big'), small: await makeRoom('small') };
    let sent = 0;
    const send = (roomId: string): Promise<unknown> =>
      db.callGrouped(actor, 'post_message', { p_room_id: roomId, p_content: 'a line', p_client_id: `c${(sent += 1)}` });
    const oneAtATime = async (roomId: string): Promise<number> => {
      const started = performance.now();
      for (let i = 0; i < flags.sends; i += 1) {
        await send(roomId);
      }
      return ((performance.now() - started) * 1000) / flags.sends;
    };
    let inBig = 0;
    const steps = [];
    console.log(`\nembedded engine, ${flags.sends} sends one at a time per room and round, µs per send`);
    console.log('big room holds | big room           | small room         | big / small');
    for (const size of flags.sizes) {
      while (inBig < size) {
        const burst = Math.min(BURST, size - inBig);
        await Promise.all(Array.from({ length: burst }, () => send(rooms.big)));
        inBig += burst;
      }
      const big: number[] = [];
      const small: number[] = [];
      for (let round = 0; round < flags.rounds; round += 1) {
        big.push(await oneAtATime(rooms.big));
        small.push(await oneAtATime(rooms.small));
        inBig += flags.sends;
      }
      const step = { size, big: spread(big), small: spread(small), ratio: spread(big.map((b, i) => b / small[i])) };
      steps.push(step);
      console.log(
        `${String(size).padStart(14)} | ${formatSpread(step.big, 0).padEnd(18)} | ${formatSpread(step.small, 0).padEnd(18)} | ${formatSpread(step.ratio)}`,
      );
    }
    writeResults({ startedAt: startedAt.toISOString(), flags, steps }, startedAt, {
      kind: 'room-size',
      out: flags.out,
    });
  } finally {
    await db.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
