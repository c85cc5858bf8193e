import { parseArgs } from 'node:util';
import { loadConfig, loadDotEnv } from './config/app-config';
import { askServer } from './modules/data/admin-channel';
import { openDirect } from './modules/data/command-database';
import { validateData, type ValidationReport } from './modules/data/data-validator';
import { printReport } from './modules/data/report';

/**
 * `npm run validate [-- --from postgres://…]`: checks the configured database (a running embedded server through its
 * admin channel, a stopped DATA_DIR, or a Postgres server): rooms' seq gapless up to last_seq, read pointers in
 * range, RLS on every table, no dangling reference. Prints the report; exits 1 when anything is off.
 */
async function main(): Promise<void> {
  const { values } = parseArgs({ options: { from: { type: 'string' } } });
  loadDotEnv();
  const config = loadConfig();
  let report: ValidationReport | undefined;
  if (!values.from && config.database.driver === 'pglite') {
    const lines = await askServer(config.dataDir, 'validate');
    for await (const line of lines ?? []) {
      report = JSON.parse(line) as ValidationReport;
    }
  }
  if (!report) {
    const db = await openDirect(config, values.from);
    try {
      report = await validateData(db);
    } finally {
      await db.close();
    }
  }
  printReport(report);
  process.exitCode = report.ok ? 0 : 1;
}

main().catch((error: unknown) => {
  process.stderr.write(`validate failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
