import { parseArgs } from 'node:util';
import { loadConfig, loadDotEnv } from './config/app-config';
import { carrySigningKey, openDirect } from './modules/data/command-database';
import { importFile } from './modules/data/data-importer';
import { printReport } from './modules/data/report';

/**
 * `npm run import -- FILE [--replace] [--to postgres://…]`: loads an export into the configured database (a stopped,
 * empty DATA_DIR, or a Postgres / Supabase database: DATABASE_URL or --to) after running the app's migrations there
 * up to the file's level, then validates it and runs the later migrations on it. Refuses a database that holds data unless --replace (which deletes it). Prints the report;
 * exits 1 when anything is off (nothing is kept then).
 */
async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { replace: { type: 'boolean' }, to: { type: 'string' } },
  });
  if (positionals.length !== 1) {
    throw new Error('usage: npm run import -- FILE [--replace] [--to postgres://…]');
  }
  loadDotEnv();
  const config = loadConfig();
  const started = performance.now();
  const db = await openDirect(config, values.to);
  try {
    const result = await importFile(db, positionals[0], { mode: values.replace ? 'replace' : 'empty' });
    const signingKey = result.committed ? await carrySigningKey(config, result.header.localJwtSecret) : undefined;
    printReport(result.validation, {
      file: positionals[0],
      committed: result.committed,
      migration: result.header.migration,
      migratedAfter: result.migratedAfter,
      inserted: result.inserted,
      signingKey,
      durationMs: Math.round(performance.now() - started),
    });
    process.exitCode = result.validation.ok ? 0 : 1;
  } finally {
    await db.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`import failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
