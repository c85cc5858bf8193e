import { type AppConfig, ConfigError, loadConfig, loadDotEnv } from './config/app-config';
import { connectPostgres } from './modules/persistence/database-connect';
import { startEmbeddedDatabase } from './modules/persistence/drivers/embedded.database';
import type { PgDatabase } from './modules/persistence/drivers/pg.database';
import { runMigrations } from './modules/persistence/migration-runner';

/**
 * `npm run migrate`: applies pending migrations to the configured database and exits (the server does the
 * same at start). Prints one JSON line with the versions it applied. Like the server, it waits for a Postgres server
 * that is not reachable yet (each retry noted on stderr) and refuses a DATA_DIR another process holds.
 */
async function main(): Promise<void> {
  loadDotEnv();
  const db = await open(loadConfig());
  try {
    const applied = await runMigrations(db);
    process.stdout.write(`${JSON.stringify({ driver: db.driver, applied })}\n`);
  } finally {
    await db.close();
  }
}

async function open(config: AppConfig): Promise<PgDatabase> {
  switch (config.database.driver) {
    case 'pglite':
      return startEmbeddedDatabase(config.dataDir, { callTimeoutMs: config.database.callTimeoutMs });
    case 'postgres':
      return connectPostgres(config.database, { max: 1 }, ({ attempt, delayMs, reason }) =>
        process.stderr.write(
          `database not reachable yet, retrying (attempt ${attempt}: ${reason}; next in ${delayMs} ms)\n`,
        ),
      );
    case 'supabase':
      throw new ConfigError('Supabase projects take the migrations with `supabase db push`');
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
