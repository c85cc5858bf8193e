/**
 * One migrated embedded data directory per test run, made by the global setup; each in-process test app that gets
 * a fresh DATA_DIR starts from a copy of it, as a server restarts on its own directory, instead of running initdb
 * and every migration again (seconds per app, over a hundred apps a run). First starts themselves stay tested by
 * the suites that run `node dist/main.js` on an empty DATA_DIR (embedded-database, durable-acks, startup,
 * server-process, the image check).
 */
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedDatabase } from '../../src/modules/persistence/drivers/embedded.database';
import { runMigrations } from '../../src/modules/persistence/migration-runner';

/** Where the global setup tells the workers the template is. */
export const DATA_TEMPLATE_ENV = 'CHAT_TEST_DATA_TEMPLATE';

/** A data directory holding only `db/`: the embedded cluster, every migration applied. */
export async function makeDataTemplate(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'chat-template-'));
  const db = await startEmbeddedDatabase(dir);
  try {
    await runMigrations(db);
  } finally {
    await db.close();
  }
  return dir;
}

/** Copies the run's template cluster into a new, empty DATA_DIR (nothing without a template). */
export async function seedDataDir(dataDir: string): Promise<void> {
  const template = process.env[DATA_TEMPLATE_ENV];
  if (template) {
    await cp(join(template, 'db'), join(dataDir, 'db'), { recursive: true });
  }
}

export async function removeDataTemplate(): Promise<void> {
  const template = process.env[DATA_TEMPLATE_ENV];
  if (template) {
    delete process.env[DATA_TEMPLATE_ENV];
    await rm(template, { recursive: true, force: true });
  }
}
