import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig, loadDotEnv } from './config/app-config';
import { exportTo, openDirect } from './modules/data/command-database';
import { importFile } from './modules/data/data-importer';
import { printReport } from './modules/data/report';

/**
 * `npm run migrate-data -- --to postgres://…`: moves the embedded database of DATA_DIR (running or stopped) to a
 * PostgreSQL or Supabase database in one command: export, the app's migrations on the target, import, validation.
 * Rows keep their ids, seqs, timestamps and statuses. Idempotent and resumable: rows are committed batch by batch
 * and a row already there is skipped, so a second run copies only what is new and an interrupted run goes on where
 * it stopped. Progress goes to stderr, one JSON line a batch; the report to stdout; exit 1 when validation fails.
 */
async function main(): Promise<void> {
  const { values } = parseArgs({ options: { to: { type: 'string' }, 'keep-file': { type: 'string' } } });
  if (!values.to) {
    throw new Error('usage: npm run migrate-data -- --to postgres://… [--keep-file FILE]');
  }
  loadDotEnv();
  const config = loadConfig();
  if (config.database.driver !== 'pglite') {
    throw new Error('migrate-data moves the embedded database (DATA_DIR): unset DATABASE_URL and SUPABASE_URL for it');
  }
  const started = performance.now();
  const file = values['keep-file'] ?? join(config.dataDir, `.migrate-data-${process.pid}.ndjson.gz`);
  const exported = await exportTo(config, file);
  process.stderr.write(`${JSON.stringify({ exported: exported.rows, via: exported.via, bytes: exported.bytes })}\n`);
  const target = await openDirect(config, values.to);
  try {
    const supabase = (
      await target.query<{ found: boolean }>(`select to_regclass('auth.users') is not null as found`)
    )[0].found;
    const result = await importFile(target, file, {
      mode: 'merge',
      onBatch: (batch) => process.stderr.write(`${JSON.stringify(batch)}\n`),
    });
    printReport(result.validation, {
      to: 'postgres',
      via: exported.via,
      copied: result.inserted,
      signingKey:
        config.auth.mode === 'local'
          ? 'DATA_DIR/local-jwt-secret signs tokens: start the server on the new database with the same DATA_DIR, or set LOCAL_JWT_SECRET to its content, and tokens signed before stay valid'
          : undefined,
      supabase: supabase
        ? 'the target has auth.users (Supabase): every profile needs an auth user of the same id (validation names the missing ones); local passwords do not carry over to Supabase Auth (scrypt, not bcrypt): keep local sign-in on this database or have users reset their password'
        : undefined,
      durationMs: Math.round(performance.now() - started),
    });
    process.exitCode = result.validation.ok ? 0 : 1;
  } finally {
    await target.close();
    if (!values['keep-file']) {
      await rm(file, { force: true });
    }
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`migrate-data failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
