/**
 * `npm run bench:unread` (or `node bench/dist/bench/unread.js [--messages N] [--rounds N]` after `nest build` and
 * `tsc -p bench/tsconfig.json`): what reading a room's unread count costs in a room of 1,000 messages and in one of
 * 1,000,000 (issue 15: "unread for a room with 1,000,000 messages answers as fast as for 1,000").
 *
 * A throwaway PostgreSQL server (the test suite's, non-durable: this measures reads, and the bulk load is faster
 * so) gets the app's migrations (`dist/migrate.js`); two rooms with the same reader and writer are filled directly
 * in SQL, the big one with generate_series (the seq trigger is disabled for the load, and the room's last_seq set
 * after). Then, as the reader (role `authenticated` with their claims, as the app calls it), interleaved and
 * repeated: `get_room` (the Room with `lastMessage` and `unread`), `list_my_rooms`, and `mark_room_read` that moves
 * the pointer one message forward, each timed from the client (a round trip on loopback included). Printed: the
 * median and spread per room and the big/small ratio per round, and the buffers the unread count touches in each.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { Client } from 'pg';
import { startPostgresServer } from '../test/support/postgres-server';
import { formatSpread } from './paired';
import { nowMs, spread } from './stats';

const ROOT = join(__dirname, '..', '..', '..');

interface Options {
  bigMessages: number;
  smallMessages: number;
  rounds: number;
}

function parse(argv: string[]): Options {
  const options: Options = { bigMessages: 1_000_000, smallMessages: 1_000, rounds: 200 };
  for (let i = 0; i < argv.length; i += 1) {
    const value = Number(argv[i + 1]);
    if (argv[i] === '--messages' && Number.isInteger(value) && value > 0) {
      options.bigMessages = value;
      i += 1;
    } else if (argv[i] === '--rounds' && Number.isInteger(value) && value > 0) {
      options.rounds = value;
      i += 1;
    } else {
      throw new Error(`unknown or bad flag ${argv[i]} (flags: --messages N, --rounds N)`);
    }
  }
  return options;
}

async function fill(db: Client, roomId: string, writer: string, count: number): Promise<void> {
  await db.query('alter table public.messages disable trigger user');
  await db.query(
    `insert into public.messages (chatroom_id, seq, role, sender_id, content)
     select $1, s, 'user', $2, 'message number ' || s from generate_series(1, $3::bigint) s`,
    [roomId, writer, count],
  );
  await db.query('alter table public.messages enable trigger user');
  await db.query('update public.chatrooms set last_seq = $2 where id = $1', [roomId, count]);
}

/** Runs `sql` as `profileId` the way the app's drivers do: role authenticated and its claims, for one transaction. */
async function asUser<T>(db: Client, profileId: string, sql: string, args: unknown[]): Promise<T[]> {
  await db.query('begin');
  try {
    await db.query(
      `select set_config('role', 'authenticated', true), set_config('request.jwt.claims', $1, true),
              set_config('request.jwt.claim.sub', $2, true)`,
      [JSON.stringify({ sub: profileId, role: 'authenticated' }), profileId],
    );
    const { rows } = await db.query(sql, args);
    return rows as T[];
  } finally {
    await db.query('commit');
  }
}

async function main(): Promise<void> {
  const options = parse(process.argv.slice(2));
  const server = await startPostgresServer();
  const db = new Client({ connectionString: server.url });
  try {
    execFileSync(process.execPath, [join(ROOT, 'dist', 'migrate.js')], {
      env: { ...process.env, DATABASE_URL: server.url, LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    await db.connect();
    const [reader, writer] = [randomUUID(), randomUUID()];
    for (const [id, name] of [
      [reader, 'reader'],
      [writer, 'writer'],
    ]) {
      await db.query('insert into public.profiles (id, username, display_name) values ($1, $2, $2)', [id, name]);
    }
    const rooms = { small: randomUUID(), big: randomUUID() };
    for (const [label, id] of Object.entries(rooms)) {
      await db.query(`insert into public.chatrooms (id, name, owner_id) values ($1, $2, $3)`, [id, label, writer]);
      await db.query(
        `insert into public.chatroom_members (chatroom_id, profile_id, role) values ($1, $2, 'owner'), ($1, $3, 'member')`,
        [id, writer, reader],
      );
    }
    const started = nowMs();
    await fill(db, rooms.small, writer, options.smallMessages);
    await fill(db, rooms.big, writer, options.bigMessages);
    await db.query('vacuum analyze public.messages');
    console.log(
      `loaded ${options.smallMessages} + ${options.bigMessages} messages in ${((nowMs() - started) / 1000).toFixed(1)} s`,
    );

    const calls = {
      get_room: (room: string) => asUser(db, reader, 'select unread from public.get_room($1)', [room]),
      list_my_rooms: () => asUser(db, reader, 'select id, unread from public.list_my_rooms()', []),
    };
    const times: Record<string, number[]> = {};
    const time = async (label: string, run: () => Promise<unknown>): Promise<void> => {
      const t0 = nowMs();
      await run();
      (times[label] ??= []).push(nowMs() - t0);
    };
    // Warm-up: plans cached, index pages read once.
    for (let i = 0; i < 20; i += 1) {
      await calls.get_room(rooms.small);
      await calls.get_room(rooms.big);
    }
    const [firstUnread] = await calls.get_room(rooms.big);
    for (let round = 0; round < options.rounds; round += 1) {
      // Alternating which room goes first, so neither always runs on the warmer cache.
      const order = round % 2 ? (['small', 'big'] as const) : (['big', 'small'] as const);
      for (const label of order) {
        await time(`get_room ${label}`, () => calls.get_room(rooms[label]));
      }
      await time('list_my_rooms (both)', () => calls.list_my_rooms());
      for (const label of order) {
        // One message forward each round: the pointer walks from the start, so the count stays at its cap of 100.
        await time(`mark_room_read ${label}`, () =>
          asUser(db, reader, 'select unread from public.mark_room_read($1, $2)', [rooms[label], round + 1]),
        );
      }
    }

    console.log(`\nunread in the big room: ${JSON.stringify(firstUnread)} (the cap is 100)`);
    console.log(`${options.rounds} rounds, interleaved; ms per call from the client: median [min–max]`);
    const figure = (label: string) => spread(times[label]);
    for (const call of ['get_room', 'mark_room_read']) {
      const small = figure(`${call} small`);
      const big = figure(`${call} big`);
      const ratio = spread(times[`${call} big`].map((b, i) => b / times[`${call} small`][i]));
      console.log(
        `${call.padEnd(15)} ${options.smallMessages} msgs: ${formatSpread(small, 3)}  ${options.bigMessages} msgs: ${formatSpread(big, 3)}  big/small per round: ${formatSpread(ratio, 2)}`,
      );
    }
    console.log(`list_my_rooms (both rooms): ${formatSpread(figure('list_my_rooms (both)'), 3)}`);

    // The buffers the count touches, as the reader: about a hundred index and heap pages whatever the room's size.
    for (const [label, id] of Object.entries(rooms)) {
      const plan = await asUser<{ 'QUERY PLAN': string }>(
        db,
        reader,
        'explain (analyze, buffers, costs off, timing off, summary off) select chat_private.unread_count($1, 0)',
        [id],
      );
      console.log(`unread_count, ${label} room: ${plan.map((r) => r['QUERY PLAN'].trim()).join('; ')}`);
    }
  } finally {
    await db.end().catch(() => undefined);
    await server.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
