/**
 * The embedded engine is a single-user Postgres backend: no autovacuum gathers its tables' statistics, so a plan made
 * while a table was small is kept for the life of its one session, and a send's duplicate check scanned every message
 * of its room. The app analyzes grown tables itself (embedded-analyze.ts). These run the real engine in its worker.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EMBEDDED_ANALYZE, EmbeddedAnalyze } from '../../src/modules/persistence/drivers/embedded-analyze';
import { startEmbeddedDatabase } from '../../src/modules/persistence/drivers/embedded.database';
import type { PgDatabase } from '../../src/modules/persistence/drivers/pg.database';
import { SERVICE_ACTOR, userActor } from '../../src/modules/persistence/database.port';
import { seedDataDir } from '../support/data-template';

const NEVER = { ...EMBEDDED_ANALYZE, everyMs: 3_600_000 };

/** A room of one member; its id and the member's. */
async function room(db: PgDatabase): Promise<{ roomId: string; userId: string }> {
  const [user] = await db.call<{ id: string }>(SERVICE_ACTOR, 'local_register', {
    p_username: `analyze_${Math.random().toString(36).slice(2, 10)}`,
    p_display_name: 'Analyze',
    p_password_hash: 'x',
  });
  const [created] = await db.call<{ id: string }>(userActor(user.id), 'create_room', {
    p_name: 'busy',
    p_visibility: 'private',
    p_ai_mode: 'off',
    p_ai_system_prompt: null,
    p_ai_model: null,
  });
  return { roomId: created.id, userId: user.id };
}

/** `count` messages into the room at once, as the service stores them (its seq and rev from the room's row). */
async function fill(db: PgDatabase, roomId: string, userId: string, count: number): Promise<void> {
  await db.withClient(async (client) => {
    await client.query('begin');
    await client.query(`select set_config('request.jwt.claims', '{"role":"service_role"}', true)`);
    await client.query(
      `insert into public.messages (chatroom_id, sender_id, role, status, content, client_id)
         select $1, $2, 'user', 'complete', 'message ' || g, 'fill-' || g || '-' || $3 from generate_series(1, $4) g`,
      [roomId, userId, Math.random().toString(36).slice(2), count],
    );
    await client.query('commit');
  });
}

/** The index the session's cached plan of a send's duplicate check reads (the query post_message runs). */
async function duplicateCheckIndex(db: PgDatabase, roomId: string, userId: string): Promise<string> {
  const [row] = await db.query<{ 'QUERY PLAN': unknown }>(
    `explain (format json) execute duplicate_check('${roomId}', '${userId}', 'not-sent')`,
  );
  const indexes = JSON.stringify(row['QUERY PLAN']).match(/"Index Name":"([^"]+)"/g) ?? [];
  return indexes.map((found) => found.slice('"Index Name":"'.length, -1)).join(',');
}

describe('statistics of the embedded engine', () => {
  let dataDir: string;
  let db: PgDatabase | undefined;

  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'chat-analyze-'));
    await seedDataDir(dataDir);
  });

  afterEach(async () => {
    await db?.close();
    db = undefined;
    await rm(dataDir, { recursive: true, force: true });
  });

  it('should keep a plan made on a small table for the session until the grown table is analyzed', async () => {
    db = await startEmbeddedDatabase(dataDir, { analyze: NEVER });
    const { roomId, userId } = await room(db);
    // As a function's statement is cached: planned once while the table is empty, then reused.
    await db.query('set plan_cache_mode = force_generic_plan');
    await db.query(
      `prepare duplicate_check(uuid, uuid, text) as
         select m.id from public.messages m where m.chatroom_id = $1 and m.sender_id = $2 and m.client_id = $3`,
    );
    expect(await duplicateCheckIndex(db, roomId, userId)).not.toBe('messages_idempotency_key');

    await fill(db, roomId, userId, 3000);
    expect(await duplicateCheckIndex(db, roomId, userId)).not.toBe('messages_idempotency_key');

    const analyzed = await new EmbeddedAnalyze(db, NEVER).check();

    expect(analyzed).toContain('messages');
    expect(await duplicateCheckIndex(db, roomId, userId)).toBe('messages_idempotency_key');
  });

  it('should analyze a table once it has grown by a page and the share asked for, and not before', async () => {
    db = await startEmbeddedDatabase(dataDir, { analyze: NEVER });
    const { roomId, userId } = await room(db);
    const analyze = new EmbeddedAnalyze(db, { ...NEVER, growth: 0.5 });
    await fill(db, roomId, userId, 2000);
    expect(await analyze.check()).toContain('messages');
    const [{ pages }] = await db.query<{ pages: number }>(
      `select relpages as pages from pg_class where oid = 'public.messages'::regclass`,
    );
    expect(pages).toBeGreaterThan(10);

    expect(await analyze.check()).toEqual([]);
    await fill(db, roomId, userId, 400);
    expect(await analyze.check()).not.toContain('messages');
    await fill(db, roomId, userId, 1000);
    expect(await analyze.check()).toContain('messages');
  });

  it('should analyze with its small statistics target and leave the session setting as it was', async () => {
    db = await startEmbeddedDatabase(dataDir, { analyze: NEVER });
    const { roomId, userId } = await room(db);
    await fill(db, roomId, userId, 5000);

    expect(await new EmbeddedAnalyze(db, NEVER).check()).toContain('messages');

    // A histogram has one bound more than the target's buckets (Postgres's default target, 100, gives 101).
    const [{ bounds }] = await db.query<{ bounds: number }>(
      `select array_length(histogram_bounds::text::bigint[], 1) as bounds
         from pg_stats where schemaname = 'public' and tablename = 'messages' and attname = 'seq'`,
    );
    expect(bounds).toBe(EMBEDDED_ANALYZE.statisticsTarget + 1);
    const [{ default_statistics_target: sessionTarget }] = await db.query<{ default_statistics_target: string }>(
      'show default_statistics_target',
    );
    expect(sessionTarget).toBe('100');
  });

  it('should analyze grown tables on its own as the server writes, and tell', async () => {
    let told: (tables: string[]) => void = () => undefined;
    db = await startEmbeddedDatabase(dataDir, {
      analyze: { ...EMBEDDED_ANALYZE, everyMs: 50, onAnalyze: (done) => told(done.tables) },
    });
    const { roomId, userId } = await room(db);
    const messagesAnalyzed = new Promise<void>((resolve) => {
      told = (tables) => (tables.includes('messages') ? resolve() : undefined);
    });

    await fill(db, roomId, userId, 1000);

    await messagesAnalyzed;
    const [{ tuples }] = await db.query<{ tuples: number }>(
      `select reltuples::int as tuples from pg_class where oid = 'public.messages'::regclass`,
    );
    expect(tuples).toBe(1000);
  });
});
