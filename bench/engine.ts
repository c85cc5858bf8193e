/**
 * The database engine alone, without the app around it: a child process driven by JSON lines (bench/line-protocol.ts).
 * It opens the app's own driver from `dist/` (the embedded engine in a worker thread in a fresh data dir, or a fresh
 * database on the bench's PostgreSQL server), migrates it, makes 5 rooms of 5 members, prints {"ready":true}, then
 * answers each `{"cmd":"measure","how","window","sends"}` with the rate of `sends` sends through `post_message`:
 * - how `call`, window 1: one transaction per send, one send at a time (the engine's raw rate);
 * - how `call`, window N: one transaction per send, N in flight (on the embedded engine they queue for its one
 *   connection);
 * - how `callGrouped`, window N: N in flight through `callGrouped`, the server's path (group commit), with the mean
 *   group size.
 * and each `{"cmd":"pace","rate","durationS"}` with the latencies of sends offered at `rate` per second for
 * `durationS` seconds through `callGrouped` (open loop, as bench/load.ts offers them to the app): the database's own
 * part of a send at the app's rate (the `floor` phase), and this process's CPU per send by thread (its main thread
 * is the database client: pg, the group commit, the JSON of the group; the engine thread the embedded database).
 * Each send is a user's, in one of the rooms, with its own client id, as the app makes them. `{"cmd":"quit"}` closes
 * the database and ends the process.
 */
import type { GroupCommitOptions } from '../src/modules/persistence/drivers/group-commit';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { commands, reply } from './line-protocol';
import { nodeProcessProbe } from './proc-cpu';
import { nowMs, round, summarize, type Summary } from './stats';

interface Config {
  db: 'embedded' | 'postgres';
  /** A database to use (postgres); it must be empty. */
  url?: string;
  /** The app's build: `<root>/dist`. */
  dist: string;
  /** Group commit on a PostgreSQL server (bench/group-commit.ts compares settings); the app's own when not given. */
  groupCommit?: GroupCommitOptions;
}

export interface EngineMeasure {
  cmd: 'measure';
  how: 'call' | 'callGrouped';
  window: number;
  sends: number;
}

export interface EnginePace {
  cmd: 'pace';
  rate: number;
  durationS: number;
}

/** A paced run: its sends' latencies (ms) and this process's CPU over it (ms, by thread: main, engine, other). */
export interface EnginePaced {
  sent: number;
  acked: number;
  errors: number;
  ackMs: Summary;
  cpuMs: Record<string, number>;
  windowMs: number;
  /** The main thread's CPU, in ms per second, of the pacing loop alone (the same 2 ms tick, no sends) after the run. */
  tickMainMsPerS: number;
}

export interface EngineRate {
  perSecond: number;
  /** Sends per commit group (callGrouped only). */
  meanGroupSize: number | null;
}

interface Actor {
  kind: 'user';
  id: string;
  username: string;
}

interface Db {
  call(actor: unknown, fn: string, args: Record<string, unknown>): Promise<any[]>;
  callGrouped(actor: Actor, fn: 'post_message', args: Record<string, unknown>): Promise<any[]>;
  observe(calls: () => void, groups: (fn: string, size: number) => void): void;
  close(): Promise<void>;
}

async function main(cfg: Config): Promise<void> {
  /* eslint-disable @typescript-eslint/no-require-imports -- the app's build, loaded at run time */
  const { startEmbeddedDatabase } = require(join(cfg.dist, 'modules/persistence/drivers/embedded.database'));
  const { PgDatabase, SERVER_GROUP_COMMIT } = require(join(cfg.dist, 'modules/persistence/drivers/pg.database'));
  const { runMigrations } = require(join(cfg.dist, 'modules/persistence/migration-runner'));
  const { SERVICE_ACTOR, userActor } = require(join(cfg.dist, 'modules/persistence/database.port'));
  /* eslint-enable @typescript-eslint/no-require-imports */
  const dataDir = mkdtempSync(join(tmpdir(), 'bench-engine-'));
  // The app's own settings for each driver (persistence.module.ts).
  const db: Db =
    cfg.db === 'embedded'
      ? await startEmbeddedDatabase(dataDir)
      : new PgDatabase(
          'postgres',
          { connectionString: cfg.url, max: 10 },
          undefined,
          cfg.groupCommit ?? SERVER_GROUP_COMMIT,
        );
  try {
    await runMigrations(db);
    const users: Actor[] = [];
    for (let i = 0; i < 25; i++) {
      const [p] = await db.call(SERVICE_ACTOR, 'local_register', {
        p_username: `engine_${i}`,
        p_display_name: `Engine ${i}`,
        p_password_hash: 'not-a-hash',
      });
      users.push({ ...userActor(p.id), username: p.username });
    }
    const rooms: { id: string; members: Actor[] }[] = [];
    for (let r = 0; r < 5; r++) {
      const members = users.slice(r * 5, r * 5 + 5);
      const [room] = await db.call(members[0], 'create_room', {
        p_name: `engine room ${r}`,
        p_visibility: 'private',
        p_ai_mode: 'off',
        p_ai_system_prompt: null,
        p_ai_model: null,
      });
      for (const m of members.slice(1)) {
        await db.call(members[0], 'add_member', { p_room_id: room.id, p_username: m.username });
      }
      rooms.push({ id: room.id, members });
    }
    let groups = 0;
    let grouped = 0;
    db.observe(
      () => undefined,
      (_fn, size) => {
        groups++;
        grouped += size;
      },
    );

    let serial = 0;
    const send = (how: 'call' | 'callGrouped', i: number): Promise<unknown> => {
      const room = rooms[i % rooms.length];
      const actor = room.members[Math.floor(i / rooms.length) % room.members.length];
      const args = { p_room_id: room.id, p_content: `engine message ${i}`, p_client_id: `e${serial++}` };
      return how === 'call' ? db.call(actor, 'post_message', args) : db.callGrouped(actor, 'post_message', args);
    };
    const measure = async ({ how, window, sends }: EngineMeasure): Promise<EngineRate> => {
      let next = 0;
      groups = 0;
      grouped = 0;
      const started = nowMs();
      await Promise.all(
        Array.from({ length: window }, async () => {
          while (next < sends) {
            await send(how, next++);
          }
        }),
      );
      return {
        perSecond: round(sends / ((nowMs() - started) / 1000), 0),
        meanGroupSize: how === 'callGrouped' ? round(grouped / Math.max(groups, 1), 1) : null,
      };
    };

    /** The pacing loop's 2 ms tick, as bench/load.ts's. */
    const tick = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 2));
    const cpu = nodeProcessProbe(process.pid, cfg.db === 'embedded' ? 'engine' : undefined);
    const pace = async ({ rate, durationS }: EnginePace): Promise<EnginePaced> => {
      const total = Math.round(rate * durationS);
      const latencies: number[] = [];
      const inFlight: Promise<void>[] = [];
      let errors = 0;
      const end = cpu.start();
      const start = nowMs();
      // Open loop on a 2 ms tick, as bench/load.ts offers sends to the app.
      for (let i = 0; i < total;) {
        const due = Math.min(total, Math.floor(((nowMs() - start) / 1000) * rate) + 1);
        for (; i < due; i++) {
          const t = nowMs();
          inFlight.push(
            send('callGrouped', i).then(
              () => void latencies.push(nowMs() - t),
              () => void errors++,
            ),
          );
        }
        await tick();
      }
      await Promise.all(inFlight);
      const windowMs = round(nowMs() - start, 1);
      const cpuMs = end();
      // The pacing loop's own cost (the app has none: its load runs in another process), the same tick without
      // sends: the floor phase takes it off the database client's main-thread CPU.
      const tickS = Math.min(2, durationS / 4);
      const endTick = cpu.start();
      const tickStart = nowMs();
      while (nowMs() - tickStart < tickS * 1000) {
        await tick();
      }
      const tickMainMsPerS = round((endTick().main ?? 0) / ((nowMs() - tickStart) / 1000), 2);
      return {
        sent: total,
        acked: latencies.length,
        errors,
        ackMs: summarize(latencies),
        cpuMs,
        windowMs,
        tickMainMsPerS,
      };
    };

    reply({ ready: true });
    const input = commands();
    for (let line = await input.next(); !line.done; line = await input.next()) {
      const cmd = JSON.parse(line.value) as EngineMeasure | EnginePace | { cmd: 'quit' };
      if (cmd.cmd === 'quit') {
        break;
      }
      reply(cmd.cmd === 'pace' ? await pace(cmd) : await measure(cmd));
    }
  } finally {
    await db.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main(JSON.parse(process.argv[2] ?? '{}') as Config).then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`engine failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  },
);
