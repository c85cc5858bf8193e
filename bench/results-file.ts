/** Where a bench run's figures go: `bench/results/<kind-><start time>.json`, or the file its `--out` names. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const RESULTS_DIR = join(__dirname, '..', '..', 'results');

/** Writes `data` as JSON and says where on stdout; `kind` prefixes the file's name (`memory-`, `group-commit-`). */
export function writeResults(data: unknown, startedAt: Date, opts: { kind?: string; out?: string } = {}): string {
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  const file = opts.out ?? join(RESULTS_DIR, `${opts.kind ? `${opts.kind}-` : ''}${stamp}.json`);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(data, null, 2)}\n`);
  console.log(`bench: results written to ${file}`);
  return file;
}
