import { mkdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { lockDataDir } from '../data-dir-lock';
import { EMBEDDED_ANALYZE, EmbeddedAnalyze, type EmbeddedAnalyzeOptions } from './embedded-analyze';
import { EMBEDDED_CHECKPOINTS, EmbeddedCheckpoints, type EmbeddedCheckpointOptions } from './embedded-checkpoints';
import { EMBEDDED_FREEZE, EmbeddedFreeze, type EmbeddedFreezeOptions } from './embedded-freeze';
import { EMBEDDED_GROUP_COMMIT, PgDatabase } from './pg.database';

const SOCKET_PORT = 5432;

interface WorkerMessage {
  type: 'ready' | 'stopped' | 'error';
  message?: string;
}

/**
 * Starts the embedded engine of DATA_DIR (its files in `<dataDir>/db/pgdata`) in a worker thread and returns a
 * PgDatabase that talks to it over a Unix socket. One pooled connection: the engine serves one session. The directory
 * is this process's alone until the database is closed (`lockDataDir`): another process gets DataDirInUseError.
 * `callTimeoutMs`: the longest a call may take (see PgDatabase). `checkpoints`: when the app asks the engine for a
 * checkpoint, which it never takes by itself (embedded-checkpoints.ts); `analyze`: when it asks for the statistics of
 * a grown table, which it never gathers by itself either (embedded-analyze.ts); `freeze`: when it asks for old
 * transaction ids to be frozen, which nothing else does there (embedded-freeze.ts).
 */
export async function startEmbeddedDatabase(
  dataDir: string,
  options: {
    callTimeoutMs?: number;
    checkpoints?: EmbeddedCheckpointOptions;
    analyze?: EmbeddedAnalyzeOptions;
    freeze?: EmbeddedFreezeOptions;
  } = {},
): Promise<PgDatabase> {
  const lock = lockDataDir(dataDir);
  let engine: Engine;
  try {
    engine = await startEngine(join(dataDir, 'db'));
  } catch (error) {
    lock.release();
    throw error;
  }
  const stop = async () => {
    try {
      await engine.stop();
    } finally {
      lock.release();
    }
  };
  const db = new PgDatabase(
    'pglite',
    { host: engine.socketDir, port: SOCKET_PORT, user: 'postgres', database: 'postgres', max: 1, idleTimeoutMillis: 0 },
    stop,
    EMBEDDED_GROUP_COMMIT,
    options.callTimeoutMs,
  );
  const checkpoints = new EmbeddedCheckpoints(db, options.checkpoints ?? EMBEDDED_CHECKPOINTS);
  const analyze = new EmbeddedAnalyze(db, options.analyze ?? EMBEDDED_ANALYZE);
  const freeze = new EmbeddedFreeze(db, options.freeze ?? EMBEDDED_FREEZE);
  for (const look of [checkpoints, analyze, freeze]) {
    db.beforeClose(() => look.stop());
    look.start();
  }
  return db;
}

interface Engine {
  socketDir: string;
  stop(): Promise<void>;
}

/** The engine in its worker thread (data in `<dir>/pgdata`), serving on a Unix socket in a fresh 0700 directory. */
async function startEngine(dir: string): Promise<Engine> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const socketDir = await mkdtemp(join(tmpdir(), 'chat-pglite-'));
  const worker = new Worker(join(__dirname, 'pglite.worker.js'), {
    workerData: { dataDir: join(dir, 'pgdata'), socketPath: join(socketDir, `.s.PGSQL.${SOCKET_PORT}`) },
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
  return { socketDir, stop };
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
