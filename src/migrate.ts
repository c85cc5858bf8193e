import { ConfigError, loadConfig, loadDotEnv } from './config/app-config';
import { startEmbeddedDatabase } from './modules/persistence/drivers/embedded.database';
import { PgDatabase } from './modules/persistence/drivers/pg.database';
import { runMigrations } from './modules/persistence/migration-runner';

/**
 * `npm run migrate`: applies pending migrations to the configured database and exits (the server does the
 * same at start). Prints one JSON line with the versions it applied. It refuses a DATA_DIR another process holds.
 */
async function main(): Promise<void> {
  loadDotEnv();
  const config = loadConfig();
  const db =
    config.database.driver === 'postgres'
      ? new PgDatabase('postgres', { connectionString: config.database.url, max: 1 })
      : config.database.driver === 'pglite'
        ? await startEmbeddedDatabase(config.dataDir)
        : undefined;
  if (!db) {
    throw new ConfigError('Supabase projects take the migrations with `supabase db push`');
  }
  try {
    const applied = await runMigrations(db);
    process.stdout.write(`${JSON.stringify({ driver: db.driver, applied })}\n`);
  } finally {
    await db.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
