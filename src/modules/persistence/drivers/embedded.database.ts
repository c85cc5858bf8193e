import { mkdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { EMBEDDED_GROUP_COMMIT, PgDatabase } from './pg.database';

const SOCKET_PORT = 5432;

interface WorkerMessage {
  type: 'ready' | 'stopped' | 'error';
  message?: string;
}

/**
 * Starts the embedded engine in a worker thread (data in `dataDir`) and returns a PgDatabase that talks to it
 * over a Unix socket in a fresh 0700 directory. One pooled connection: the engine serves one session.
 * `callTimeoutMs`: the longest a call may take (see PgDatabase).
 */
export async function startEmbeddedDatabase(
  dataDir: string,
  options: { callTimeoutMs?: number } = {},
): Promise<PgDatabase> {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const socketDir = await mkdtemp(join(tmpdir(), 'chat-pglite-'));
  const worker = new Worker(join(__dirname, 'pglite.worker.js'), {
    workerData: { dataDir: join(dataDir, 'pgdata'), socketPath: join(socketDir, `.s.PGSQL.${SOCKET_PORT}`) },
  });
  try {
    await nextMessage(worker, 'ready');
  } catch (error) {
    await worker.terminate();
    await rm(socketDir, { recursive: true, force: true });
    throw error;
  }
  const stop = async () => {
    worker.postMessage({ type: 'stop' });
    try {
      await nextMessage(worker, 'stopped');
    } finally {
      await worker.terminate();
      await rm(socketDir, { recursive: true, force: true });
    }
  };
  return new PgDatabase(
    'pglite',
    { host: socketDir, port: SOCKET_PORT, user: 'postgres', database: 'postgres', max: 1, idleTimeoutMillis: 0 },
    stop,
    EMBEDDED_GROUP_COMMIT,
    options.callTimeoutMs,
  );
}

function nextMessage(worker: Worker, expected: WorkerMessage['type']): Promise<void> {
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
    };
    const onMessage = (message: WorkerMessage) => {
      if (message.type === expected) {
        cleanup();
        resolve();
      } else if (message.type === 'error') {
        cleanup();
        reject(new Error(`embedded database: ${message.message ?? 'failed'}`));
      }
    };
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    const onExit = (code: number) => {
      cleanup();
      reject(new Error(`embedded database thread exited with code ${code}`));
    };
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
  });
}
