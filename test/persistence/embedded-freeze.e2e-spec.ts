/**
 * The embedded engine is a single-user Postgres backend: no autovacuum freezes its old transaction ids, and outside a
 * postmaster Postgres does not stop short of their wraparound, where the oldest rows would vanish. The app freezes old
 * tables itself (embedded-freeze.ts). These run the real engine in its worker, with thresholds of a few dozen
 * transactions instead of Postgres's hundreds of millions.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddedFreeze, type EmbeddedFreezeOptions } from '../../src/modules/persistence/drivers/embedded-freeze';
import { startEmbeddedDatabase } from '../../src/modules/persistence/drivers/embedded.database';
import type { PgDatabase } from '../../src/modules/persistence/drivers/pg.database';
import { seedDataDir } from '../support/data-template';
import { rawFixtures } from '../support/raw-fixtures';

const NEVER: EmbeddedFreezeOptions = { everyMs: 3_600_000 };
/** No MultiXact id is ever this old here. */
const MANY = 1_000_000_000;

/** How many transactions (and MultiXacts) ago the table's oldest unfrozen id is, TOAST included. */
async function ages(db: PgDatabase, table: string): Promise<{ xids: number; multixacts: number }> {
  const [row] = await db.query<{ xids: number; multixacts: number }>(
    `select age(relfrozenxid) as xids, mxid_age(relminmxid) as multixacts from pg_class where oid = $1::regclass`,
    [table],
  );
  return row;
}

async function messageCount(db: PgDatabase, roomId: string): Promise<number> {
  const [row] = await db.query<{ count: number }>(
    'select count(*)::int as count from public.messages where chatroom_id = $1',
    [roomId],
  );
  return row.count;
}

describe('freezing on the embedded engine', () => {
  let dataDir: string;
  let db: PgDatabase | undefined;
  const fixtures = rawFixtures(() => db!);

  /** A room of one member, and `send` for its member: sends one transaction each, as a user makes them. */
  async function room(): Promise<{ roomId: string; send: (count: number) => Promise<void> }> {
    const user = await fixtures.user();
    const roomId = await fixtures.room(user.id);
    return { roomId, send: (count) => fixtures.post(user.id, roomId, count) };
  }

  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'chat-freeze-'));
    await seedDataDir(dataDir);
  });

  afterEach(async () => {
    await db?.close();
    db = undefined;
    await rm(dataDir, { recursive: true, force: true });
  });

  it('should freeze a table whose transaction ids are older than the threshold, and not one younger', async () => {
    db = await startEmbeddedDatabase(dataDir, { freeze: NEVER });
    const { roomId, send } = await room();
    const freeze = new EmbeddedFreeze(db, { ...NEVER, maxXidAge: 40, maxMultixactAge: MANY });
    await send(50);
    expect((await ages(db, 'public.messages')).xids).toBeGreaterThan(40);

    const frozen = await freeze.check();

    expect(frozen).toContain('messages');
    expect(frozen).toContain('chatrooms');
    expect(frozen).toContain('pg_class'); // the catalogs age too
    expect((await ages(db, 'public.messages')).xids).toBeLessThan(10);
    expect(await messageCount(db, roomId)).toBe(50);

    expect(await freeze.check()).toEqual([]);
    await send(5);
    expect(await freeze.check()).toEqual([]);
    await send(40);
    expect(await freeze.check()).toContain('messages');
    expect(await messageCount(db, roomId)).toBe(95);
  });

  it('should freeze a table whose MultiXact ids are older than the threshold', async () => {
    db = await startEmbeddedDatabase(dataDir, { freeze: NEVER });
    const { roomId } = await room();
    // As two grouped sends into one room make them: a row locked by the transaction and updated by a subtransaction.
    await db.withClient(async (client) => {
      for (let i = 0; i < 3; i++) {
        await client.query('begin');
        await client.query('select 1 from public.chatrooms where id = $1 for key share', [roomId]);
        await client.query('savepoint s');
        await client.query('update public.chatrooms set name = name where id = $1', [roomId]);
        await client.query('commit');
      }
    });
    expect((await ages(db, 'public.chatrooms')).multixacts).toBeGreaterThan(2);

    const frozen = await new EmbeddedFreeze(db, { ...NEVER, maxXidAge: MANY, maxMultixactAge: 2 }).check();

    expect(frozen).toContain('chatrooms');
    expect((await ages(db, 'public.chatrooms')).multixacts).toBeLessThan(2);
  });

  it('should freeze old tables on its own as the server writes, and tell', async () => {
    let told: (tables: string[]) => void = () => undefined;
    db = await startEmbeddedDatabase(dataDir, {
      freeze: { everyMs: 50, maxXidAge: 30, maxMultixactAge: MANY, onFreeze: (done) => told(done.tables) },
    });
    const { roomId, send } = await room();
    const messagesFrozen = new Promise<void>((resolve) => {
      told = (tables) => (tables.includes('messages') ? resolve() : undefined);
    });

    await send(40);

    await messagesFrozen;
    expect((await ages(db, 'public.messages')).xids).toBeLessThan(30);
    expect(await messageCount(db, roomId)).toBe(40);
  });
});
