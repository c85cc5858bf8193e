import { join } from 'node:path';
import { lockDataDir } from './data-dir-lock';
import { ensureDataDir, hasCluster } from './drivers/first-start';

/**
 * A first start of the embedded engine makes its cluster (`<DATA_DIR>/db/pgdata`) here, before the app's modules load:
 * the initdb process then peaks beside a server of ~55 MiB instead of ~180 (bench/MEMORY.md). Under the DATA_DIR lock,
 * so a second server refuses as it would once the app runs (DataDirInUseError); the lock is let go after, and the
 * app's embedded database takes it again. Nothing to do (and no lock taken) when the cluster exists.
 */
export async function prepareEmbeddedDataDir(dataDir: string): Promise<void> {
  const pgdata = join(dataDir, 'db', 'pgdata');
  if (hasCluster(pgdata)) {
    return;
  }
  const lock = lockDataDir(dataDir);
  try {
    await ensureDataDir(pgdata);
  } catch (error) {
    // As the engine's worker reports it when it makes the directory itself.
    throw new Error(`embedded database: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  } finally {
    lock.release();
  }
}
