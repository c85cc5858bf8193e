/**
 * What the change feed's `rev` costs sends while many members react at once (issue 17 item 1): a reaction is a change,
 * so it takes the room's next rev under the same row lock that a send takes its seq under. Sends and reactions to one
 * room therefore queue behind each other; this measures by how much.
 *
 *   npm run build && tsc -p bench/tsconfig.json && node bench/dist/bench/rev-contention.js [--reactors 8] [--rate 50]
 *     [--reaction-rate N]  (reactions per second in all, paced; 0, the default: each reactor in a closed loop)
 *
 * A durable PostgreSQL server (fsync and synchronous_commit on: an ack means the data is on disk), the app's
 * migrations (`dist/migrate.js`), one room with `--reactors` + 1 members. One sender calls `post_message` at a fixed
 * `--rate` per second (as the app's group commit would not batch at this rate, one call per send), timed per call.
 * Slices of `--slice` seconds alternate, after a warm-up slice: quiet (only the sender) and busy (also every reactor
 * in a closed loop adding and removing a reaction on the room's newest messages, as fast as the database lets it),
 * `--repeats` pairs. Printed per kind of slice: the sends' p50 and p99 (ms), medians over the slices with their
 * spread, the busy/quiet ratio per pair, and the reactions per second the busy slices carried. All calls run as the
 * member (role `authenticated` with their claims, as the app calls the functions), so RLS and the triggers apply.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Client } from 'pg';
import { startBenchPostgres } from './postgres';
import { formatSpread } from './paired';
import { nowMs, percentile, spread } from './stats';

const ROOT = join(__dirname, '..', '..', '..');
const EMOJI = ['👍', '🎉', '❤️', '😂'];

/** One connection that calls the app's functions as one member, one transaction per call, one call at a time. */
class MemberConnection {
  private tail: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly client: Client,
    readonly profileId: string,
  ) {}

  static async open(url: string, profileId: string): Promise<MemberConnection> {
    const client = new Client({ connectionString: url });
    await client.connect();
    return new MemberConnection(client, profileId);
  }

  /** Queued behind the calls before it: a transaction's statements must not interleave with another's. */
  call<T>(sql: string, args: unknown[]): Promise<T[]> {
    const run = this.tail.then(() => this.transaction<T>(sql, args));
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async transaction<T>(sql: string, args: unknown[]): Promise<T[]> {
    await this.client.query('begin');
    try {
      await this.client.query(
        `select set_config('role', 'authenticated', true), set_config('request.jwt.claims', $1, true),
                set_config('request.jwt.claim.sub', $2, true)`,
        [JSON.stringify({ sub: this.profileId, role: 'authenticated' }), this.profileId],
      );
      const { rows } = await this.client.query(sql, args);
      await this.client.query('commit');
      return rows as T[];
    } catch (error) {
      await this.client.query('rollback');
      throw error;
    }
  }

  close(): Promise<void> {
    return this.client.end();
  }
}

interface Slice {
  kind: 'quiet' | 'busy';
  p50: number | null;
  p99: number | null;
  sends: number;
  reactionsPerSecond: number;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      reactors: { type: 'string', default: '8' },
      rate: { type: 'string', default: '50' },
      slice: { type: 'string', default: '5' },
      repeats: { type: 'string', default: '5' },
      'reaction-rate': { type: 'string', default: '0' },
    },
  });
  const reactors = Number(values.reactors);
  const rate = Number(values.rate);
  const sliceMs = Number(values.slice) * 1000;
  const repeats = Number(values.repeats);
  /** Reactions per second in all (0: each reactor as fast as the database lets it). */
  const reactionRate = Number(values['reaction-rate']);

  const server = await startBenchPostgres(true);
  const admin = new Client({ connectionString: server.url });
  const connections: MemberConnection[] = [];
  try {
    execFileSync(process.execPath, [join(ROOT, 'dist', 'migrate.js')], {
      env: { ...process.env, DATABASE_URL: server.url, LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    await admin.connect();
    const members = Array.from({ length: reactors + 1 }, () => randomUUID());
    for (const [i, id] of members.entries()) {
      await admin.query('insert into public.profiles (id, username, display_name) values ($1, $2, $2)', [
        id,
        `member_${i}`,
      ]);
    }
    const roomId = randomUUID();
    await admin.query(`insert into public.chatrooms (id, name, owner_id, ai_mode) values ($1, 'bench', $2, 'off')`, [
      roomId,
      members[0],
    ]);
    for (const [i, id] of members.entries()) {
      await admin.query('insert into public.chatroom_members (chatroom_id, profile_id, role) values ($1, $2, $3)', [
        roomId,
        id,
        i === 0 ? 'owner' : 'member',
      ]);
    }
    const sender = await MemberConnection.open(server.url, members[0]);
    connections.push(sender);
    for (const id of members.slice(1)) {
      connections.push(await MemberConnection.open(server.url, id));
    }
    const reactorConnections = connections.slice(1);
    let newest: string[] = [];

    const send = async (n: number): Promise<number> => {
      const t0 = nowMs();
      const [row] = await sender.call<{ id: string }>('select id from public.post_message($1, $2, $3)', [
        roomId,
        `message ${n}`,
        `c${n}`,
      ]);
      newest = [row.id, ...newest].slice(0, 5);
      return nowMs() - t0;
    };

    let sent = 0;
    const runSlice = async (kind: Slice['kind']): Promise<Slice> => {
      const latencies: number[] = [];
      let reactions = 0;
      let stop = false;
      const loops =
        kind === 'busy'
          ? reactorConnections.map(async (member, i) => {
              for (let k = 0; !stop; k += 1) {
                const target = newest[k % Math.max(newest.length, 1)];
                if (!target) {
                  await new Promise((resolve) => setTimeout(resolve, 5));
                  continue;
                }
                const fn = k % 2 === 0 ? 'add_reaction' : 'remove_reaction';
                const t0 = nowMs();
                await member.call(`select changed from public.${fn}($1, $2, $3)`, [roomId, target, EMOJI[i % 4]]);
                reactions += 1;
                const pause = reactionRate > 0 ? (1000 * reactorConnections.length) / reactionRate - (nowMs() - t0) : 0;
                if (pause > 0) {
                  await new Promise((resolve) => setTimeout(resolve, pause));
                }
              }
            })
          : [];
      const started = nowMs();
      const pending: Promise<void>[] = [];
      for (let i = 0; nowMs() - started < sliceMs; i += 1) {
        const due = started + (i * 1000) / rate;
        const wait = due - nowMs();
        if (wait > 0) {
          await new Promise((resolve) => setTimeout(resolve, wait));
        }
        sent += 1;
        pending.push(send(sent).then((ms) => void latencies.push(ms)));
        // One connection runs one call at a time: a send waits for the one before it, as on the app's connection.
      }
      await Promise.all(pending);
      const elapsed = (nowMs() - started) / 1000;
      stop = true;
      await Promise.all(loops);
      const sorted = [...latencies].sort((a, b) => a - b);
      return {
        kind,
        p50: percentile(sorted, 50),
        p99: percentile(sorted, 99),
        sends: latencies.length,
        reactionsPerSecond: reactions / elapsed,
      };
    };

    await runSlice('busy');
    const slices: Slice[] = [];
    for (let r = 0; r < repeats; r += 1) {
      // Alternating which goes first, so neither always runs on the warmer machine.
      const order: Slice['kind'][] = r % 2 ? ['busy', 'quiet'] : ['quiet', 'busy'];
      for (const kind of order) {
        slices.push(await runSlice(kind));
      }
    }

    const of = (kind: Slice['kind'], pick: (s: Slice) => number | null) =>
      slices.filter((s) => s.kind === kind).map(pick);
    const quiet = slices.filter((s) => s.kind === 'quiet');
    const busy = slices.filter((s) => s.kind === 'busy');
    const ratio = (pick: (s: Slice) => number | null) =>
      spread(busy.map((b, i) => (pick(b) ?? NaN) / (pick(quiet[i]) ?? NaN)));
    console.log(
      `PostgreSQL ${JSON.stringify(server.settings)}; ${reactors} reactors` +
        `${reactionRate > 0 ? ` at ${reactionRate}/s in all` : ' in a closed loop'}, sends at ${rate}/s, ` +
        `${repeats} pairs of ${sliceMs / 1000} s slices`,
    );
    console.log(
      `send p50 ms   quiet ${formatSpread(spread(of('quiet', (s) => s.p50)))}   busy ${formatSpread(spread(of('busy', (s) => s.p50)))}   busy/quiet ${formatSpread(ratio((s) => s.p50))}`,
    );
    console.log(
      `send p99 ms   quiet ${formatSpread(spread(of('quiet', (s) => s.p99)))}   busy ${formatSpread(spread(of('busy', (s) => s.p99)))}   busy/quiet ${formatSpread(ratio((s) => s.p99))}`,
    );
    console.log(
      `reactions/s in busy slices ${formatSpread(spread(of('busy', (s) => s.reactionsPerSecond)), 0)}; sends per slice ${formatSpread(spread(slices.map((s) => s.sends)), 0)}`,
    );
  } finally {
    await Promise.all(connections.map((c) => c.close().catch(() => undefined)));
    await admin.end().catch(() => undefined);
    await server.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
