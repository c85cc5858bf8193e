import { parseArgs } from 'node:util';
import { loadConfig, loadDotEnv } from './config/app-config';
import { exportTo } from './modules/data/command-database';

/**
 * `npm run export -- --out FILE [--from postgres://…]`: writes every table the app owns to FILE (gzip'd NDJSON,
 * mode 0600), from the configured database: a running embedded server through its admin channel, a stopped
 * DATA_DIR, or a Postgres server (DATABASE_URL, or --from). Prints one JSON line: the file, its size, rows per table.
 */
async function main(): Promise<void> {
  const { values } = parseArgs({ options: { out: { type: 'string' }, from: { type: 'string' } } });
  if (!values.out) {
    throw new Error('usage: npm run export -- --out FILE [--from postgres://…]');
  }
  loadDotEnv();
  const run = await exportTo(loadConfig(), values.out, values.from);
  process.stdout.write(`${JSON.stringify(run)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`export failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
