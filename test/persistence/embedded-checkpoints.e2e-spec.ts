/**
 * The embedded engine is a single-user Postgres backend: it takes no checkpoint by itself (max_wal_size and
 * checkpoint_timeout do nothing there), so without the app's checkpoints its WAL grows for as long as the server runs
 * and every new segment is zero-filled while the commits wait. These run the real engine in its worker thread.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddedCheckpoints } from '../../src/modules/persistence/drivers/embedded-checkpoints';
import { startEmbeddedDatabase } from '../../src/modules/persistence/drivers/embedded.database';
import type { PgDatabase } from '../../src/modules/persistence/drivers/pg.database';
import { seedDataDir } from '../support/data-template';

const MiB = 1024 * 1024;

/** Where the last checkpoint's redo starts, and how much WAL has been written since, in bytes. */
async function walState(db: PgDatabase): Promise<{ redo: string; pending: number }> {
  const [row] = await db.query<{ redo: string; pending: string }>(
    `select redo_lsn::text as redo, (pg_current_wal_lsn() - redo_lsn)::bigint::text as pending
       from pg_control_checkpoint()`,
  );
  return { redo: row.redo, pending: Number(row.pending) };
}

/** About 11 MB of WAL: 10,000 rows of 1 kB. */
async function writeWal(db: PgDatabase): Promise<void> {
  await db.query(`insert into public.wal_filler (body) select repeat('x', 1000) || g from generate_series(1, 10000) g`);
}

describe('checkpoints of the embedded engine', () => {
  let dataDir: string;

  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'chat-checkpoints-'));
    await seedDataDir(dataDir);
  });

  afterEach(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('should take no checkpoint by itself, however much WAL it writes', async () => {
    const db = await startEmbeddedDatabase(dataDir, {
      checkpoints: { walBytes: Number.MAX_SAFE_INTEGER, everyMs: 60_000 },
    });
    try {
      await db.query('create table public.wal_filler (body text)');
      const before = await walState(db);
      await writeWal(db);
      await writeWal(db);
      const after = await walState(db);
      expect(after.redo).toBe(before.redo);
      expect(after.pending - before.pending).toBeGreaterThan(16 * MiB);
    } finally {
      await db.close();
    }
  });

  it('should checkpoint when the WAL since the last checkpoint passes the threshold, and not before', async () => {
    const db = await startEmbeddedDatabase(dataDir, {
      checkpoints: { walBytes: Number.MAX_SAFE_INTEGER, everyMs: 60_000 },
    });
    try {
      await db.query('create table public.wal_filler (body text)');
      await writeWal(db);
      const before = await walState(db);
      expect(before.pending).toBeGreaterThan(8 * MiB);

      const done: number[] = [];
      const above = (walBytes: number) =>
        new EmbeddedCheckpoints(db, { walBytes, everyMs: 60_000, onCheckpoint: (d) => done.push(d.walBytes) });

      expect(await above(before.pending * 2).check()).toBe(false);
      expect((await walState(db)).redo).toBe(before.redo);
      expect(done).toEqual([]);

      expect(await above(8 * MiB).check()).toBe(true);
      const after = await walState(db);
      expect(after.redo).not.toBe(before.redo);
      expect(after.pending).toBeLessThan(MiB);
      expect(done).toEqual([before.pending]);
    } finally {
      await db.close();
    }
  });

  it('should ask for checkpoints on its own as the server writes, and keep the data', async () => {
    const checkpoints: number[] = [];
    let onCheckpoint = () => undefined as void;
    const db = await startEmbeddedDatabase(dataDir, {
      checkpoints: {
        walBytes: 8 * MiB,
        everyMs: 50,
        onCheckpoint: (d) => {
          checkpoints.push(d.walBytes);
          onCheckpoint();
        },
      },
    });
    let rows: number;
    try {
      await db.query('create table public.wal_filler (body text)');
      for (let round = 0; round < 4; round++) {
        const checkpointed = new Promise<void>((resolve) => (onCheckpoint = resolve));
        await writeWal(db);
        await checkpointed;
      }
      expect(checkpoints).toHaveLength(4);
      expect(checkpoints.every((walBytes) => walBytes >= 8 * MiB)).toBe(true);
      expect((await walState(db)).pending).toBeLessThan(8 * MiB);
      [{ rows }] = await db.query<{ rows: number }>('select count(*)::int as rows from public.wal_filler');
      expect(rows).toBe(40_000);
    } finally {
      await db.close();
    }

    const reopened = await startEmbeddedDatabase(dataDir);
    try {
      expect(await reopened.query('select count(*)::int as rows from public.wal_filler')).toEqual([{ rows }]);
    } finally {
      await reopened.close();
    }
  });
});
