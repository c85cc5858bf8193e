/**
 * Opens the drivers the persistence contract runs against (test/persistence/), and the raw SQL access the
 * RLS tests use beneath the functions. Only this file knows that both drivers are a PgDatabase.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PoolClient, PoolConfig } from 'pg';
import { startEmbeddedDatabase } from '../../src/modules/persistence/drivers/embedded.database';
import type { GroupCommitOptions } from '../../src/modules/persistence/drivers/group-commit';
import { PgDatabase, SERVER_GROUP_COMMIT } from '../../src/modules/persistence/drivers/pg.database';
import { runMigrations } from '../../src/modules/persistence/migration-runner';
import type { RawQuery, RawSql, RawSqlDriver } from '../persistence/persistence-contract';
import { createDatabase } from './postgres-server';

/** The embedded engine in a fresh temp data dir, migrated. */
export async function openEmbeddedDriver(): Promise<RawSqlDriver> {
  const dataDir = await mkdtemp(join(tmpdir(), 'chat-persistence-'));
  try {
    const db = await startEmbeddedDatabase(dataDir);
    return await migrated(db, async () => rm(dataDir, { recursive: true, force: true }));
  } catch (error) {
    await rm(dataDir, { recursive: true, force: true });
    throw error;
  }
}

/**
 * A fresh database on the test PostgreSQL server (TEST_PG_URL, started by the jest global setup), migrated; or, given
 * `via`, the database it names (a pooler in front of that server).
 */
export async function openPostgresDriver(
  via?: PoolConfig,
  groupCommit: GroupCommitOptions = SERVER_GROUP_COMMIT,
): Promise<RawSqlDriver> {
  const adminUrl = process.env.TEST_PG_URL;
  if (!adminUrl) {
    throw new Error('TEST_PG_URL is not set: is test/global-setup.ts configured as jest globalSetup?');
  }
  // As the app opens a server (persistence.module.ts): its pool size and, unless told otherwise, its group commit.
  const db = new PgDatabase(
    'postgres',
    { ...(via ?? { connectionString: await createDatabase(adminUrl) }), max: 10 },
    undefined,
    groupCommit,
  );
  return migrated(db, () => Promise.resolve());
}

async function migrated(db: PgDatabase, afterClose: () => Promise<void>): Promise<RawSqlDriver> {
  try {
    await runMigrations(db);
  } catch (error) {
    await db.close();
    throw error;
  }
  return {
    db,
    raw: pgRawSql(db),
    async close() {
      await db.close();
      await afterClose();
    },
  };
}

/** Raw SQL over a PgDatabase: as the connecting user (the owner, RLS off), or as a user in a rolled back transaction. */
export function pgRawSql(db: PgDatabase): RawSql {
  return {
    admin: (sql, values = []) => db.withClient(async (client) => toResult(await client.query(sql, values))),
    asUser: (userId, work) =>
      db.withClient(async (client) => {
        await client.query('begin');
        try {
          await client.query(
            "select set_config('role', 'authenticated', true), set_config('request.jwt.claims', $1, true)",
            [JSON.stringify({ sub: userId, role: 'authenticated' })],
          );
          return await work(inSavepoint(client));
        } finally {
          await client.query('rollback');
        }
      }),
  };
}

/** Each statement in its own savepoint, so a refused one leaves the transaction (and its role) usable. */
function inSavepoint(client: PoolClient): RawQuery {
  return async (sql, values = []) => {
    await client.query('savepoint raw_statement');
    try {
      const result = toResult(await client.query(sql, values));
      await client.query('release savepoint raw_statement');
      return result;
    } catch (error) {
      await client.query('rollback to savepoint raw_statement');
      throw error;
    }
  };
}

function toResult(result: { rows: any[]; rowCount: number | null }) {
  return { rows: result.rows, rowCount: result.rowCount ?? 0 };
}
