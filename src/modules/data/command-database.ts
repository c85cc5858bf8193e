/** How the data commands (export, import, validate, migrate-data) reach a database. */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type AppConfig, ConfigError } from '../../config/app-config';
import { connectPostgres } from '../persistence/database-connect';
import { startEmbeddedDatabase } from '../persistence/drivers/embedded.database';
import type { PgDatabase } from '../persistence/drivers/pg.database';
import { exportLines } from './data-exporter';
import { writeExportFile } from './export-file';
import { askServer } from './admin-channel';
import { runnerOf } from './sql-runner';

/**
 * The configured database for a command that holds it alone: the Postgres server at `url` (or DATABASE_URL), or
 * the embedded one of DATA_DIR (taking its lock: a running server makes this fail with DataDirInUseError).
 */
export async function openDirect(config: AppConfig, url?: string): Promise<PgDatabase> {
  if (url || config.database.driver === 'postgres') {
    return connectPostgres({ ...config.database, url: url ?? config.database.url }, { max: 1 }, (retry) =>
      process.stderr.write(
        `database not reachable yet, retrying (attempt ${retry.attempt}: ${retry.reason}; next in ${retry.delayMs} ms)\n`,
      ),
    );
  }
  if (config.database.driver === 'supabase') {
    throw new ConfigError(
      "Invalid configuration: DATABASE_URL: the Supabase API does not reach every table (chat_private): set DATABASE_URL to the project's Postgres connection string (Settings → Database, the session pooler or a direct connection)",
    );
  }
  return startEmbeddedDatabase(config.dataDir, { callTimeoutMs: config.database.callTimeoutMs });
}

/** The local signing key to carry in an export: local sign-in only. */
export function signingKeyOf(config: AppConfig): string | undefined {
  return config.auth.mode === 'local' ? config.auth.localJwtSecret : undefined;
}

export interface ExportRun {
  file: string;
  bytes: number;
  rows: Record<string, number>;
  /** `server`: through a running embedded server's admin channel; `direct`: in one snapshot of the database. */
  via: 'server' | 'direct';
  durationMs: number;
}

/**
 * Exports the configured database (or `url`) to `file`: through the running server's admin channel when one owns
 * DATA_DIR, else directly, in one read-only snapshot (repeatable read), which a Postgres server keeps without
 * blocking writers.
 */
export async function exportTo(config: AppConfig, file: string, url?: string): Promise<ExportRun> {
  const started = performance.now();
  const done = (via: ExportRun['via'], run: Awaited<ReturnType<typeof writeExportFile>>): ExportRun => ({
    file,
    bytes: run.bytes,
    rows: run.trailer.rows,
    via,
    durationMs: Math.round(performance.now() - started),
  });
  if (!url && config.database.driver === 'pglite') {
    const lines = await askServer(config.dataDir, 'export');
    if (lines) {
      return done('server', await writeExportFile(file, lines));
    }
  }
  const db = await openDirect(config, url);
  try {
    const run = await db.withClient(async (client) => {
      await client.query('begin isolation level repeatable read read only');
      try {
        return await writeExportFile(
          file,
          // Alone on the database: larger reads, fewer round trips.
          exportLines(runnerOf(client), { driver: db.driver, localJwtSecret: signingKeyOf(config), batchSize: 5000 }),
        );
      } finally {
        await client.query('rollback');
      }
    });
    return done('direct', run);
  } finally {
    await db.close();
  }
}

/**
 * Puts the file's signing key where a local-mode server reads it (DATA_DIR/local-jwt-secret) unless a key is already
 * set; says what became of it.
 */
export async function carrySigningKey(config: AppConfig, fileKey: string | undefined): Promise<string> {
  if (!fileKey) {
    return 'the file holds no signing key (Supabase sign-in, or LOCAL_JWT_SECRET unset at the source): tokens signed before are not valid here';
  }
  if (config.auth.mode !== 'local') {
    return 'Supabase sign-in: the local signing key of the file is not used';
  }
  if (config.auth.localJwtSecret === fileKey) {
    return 'the signing key is the same: tokens signed before stay valid';
  }
  const keyFile = join(config.dataDir, 'local-jwt-secret');
  const stored = await readFile(keyFile, 'utf8').catch(() => undefined);
  if (stored?.trim() !== config.auth.localJwtSecret) {
    return 'LOCAL_JWT_SECRET differs from the key of the file: set it to the old key to keep tokens signed before valid';
  }
  await writeFile(keyFile, fileKey, { mode: 0o600 });
  return 'the signing key of the file was written to DATA_DIR/local-jwt-secret: tokens signed before stay valid';
}
