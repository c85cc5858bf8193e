import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { PgDatabase } from './drivers/pg.database';

/** `migrations/` at the project root (the same depth from src/ and dist/). */
export const MIGRATIONS_DIR = resolve(__dirname, '../../../migrations');

const FILE = /^(\d{14})_([a-z0-9_]+)\.sql$/;
const LOCK_KEY = 'chat-backend:migrations';

export interface MigrationFile {
  version: string;
  name: string;
  path: string;
}

export async function listMigrations(dir = MIGRATIONS_DIR): Promise<MigrationFile[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort();
  return files.map((file) => {
    const match = FILE.exec(file);
    if (!match) {
      throw new Error(`Migration file name must be <UTC timestamp>_<name>.sql: ${file}`);
    }
    return { version: match[1], name: match[2], path: join(dir, file) };
  });
}

/**
 * Applies the pending migrations in order, each in its own transaction together with its record; with `until`, only
 * those up to that version (an import loads a file at its own level, then the rest run on its rows).
 * A transaction-scoped advisory lock makes it safe from several processes at once: the second waits,
 * then sees the file recorded and skips it. Returns the versions this call applied.
 */
export async function runMigrations(db: PgDatabase, dir = MIGRATIONS_DIR, until?: string): Promise<string[]> {
  const migrations = (await listMigrations(dir)).filter((m) => until === undefined || m.version <= until);
  return db.withClient(async (client) => {
    await client.query('begin');
    try {
      await client.query('select pg_advisory_xact_lock(hashtext($1))', [LOCK_KEY]);
      await client.query(`create schema if not exists chat_meta;
        create table if not exists chat_meta.migrations (
          version text primary key, name text not null, applied_at timestamptz not null default now())`);
      await client.query('commit');
    } catch (error) {
      await client.query('rollback');
      throw error;
    }
    const applied: string[] = [];
    for (const migration of migrations) {
      await client.query('begin');
      try {
        await client.query('select pg_advisory_xact_lock(hashtext($1))', [LOCK_KEY]);
        const done = await client.query('select 1 from chat_meta.migrations where version = $1', [migration.version]);
        if (done.rowCount === 0) {
          await client.query(await readFile(migration.path, 'utf8'));
          await client.query('insert into chat_meta.migrations (version, name) values ($1, $2)', [
            migration.version,
            migration.name,
          ]);
          applied.push(migration.version);
        }
        await client.query('commit');
      } catch (error) {
        await client.query('rollback');
        throw new Error(`Migration ${migration.version}_${migration.name} failed: ${(error as Error).message}`, {
          cause: error,
        });
      }
    }
    return applied;
  });
}
