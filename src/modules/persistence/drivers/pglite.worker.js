// @ts-check
// The embedded Postgres (PGlite) in its own thread, serving the Postgres wire protocol on a Unix socket
// in a private directory, so the thread that serves HTTP and sockets never waits on the engine.
'use strict';
const { parentPort, workerData } = require('node:worker_threads');
// Before the engine loads: it must open its files through the watched node:fs.
const { watchDurability } = require('./durable-files');
const { PGlite } = require('@electric-sql/pglite');
const { PGLiteSocketServer } = require('@electric-sql/pglite-socket');

/** @type {{ dataDir: string, socketPath: string }} */
const { dataDir, socketPath } = workerData;

async function main() {
  const durability = watchDurability(dataDir);
  const db = await PGlite.create(dataDir);
  durability.syncAll();
  // Every reply byte reaches the client after the WAL its statements wrote is on disk: an ack means durable.
  const execStream = db.execProtocolRawStream.bind(db);
  /** @type {typeof db.execProtocolRawStream} */
  db.execProtocolRawStream = (message, options = {}) =>
    execStream(message, {
      ...options,
      onRawData: (data) => {
        durability.syncWal();
        options.onRawData?.(data);
      },
    });
  // One connection: the engine is a single backend session shared by every client of the socket.
  const server = new PGLiteSocketServer({ db, path: socketPath, maxConnections: 1 });
  await server.start();
  parentPort?.on('message', (message) => {
    if (message && message.type === 'stop') {
      void stop(server, db, durability);
    }
  });
  parentPort?.postMessage({ type: 'ready' });
}

/**
 * @param {PGLiteSocketServer} server
 * @param {PGlite} db
 * @param {ReturnType<typeof watchDurability>} durability
 */
async function stop(server, db, durability) {
  try {
    await server.stop();
    await db.close();
    durability.syncAll();
    parentPort?.postMessage({ type: 'stopped' });
  } catch (error) {
    parentPort?.postMessage({ type: 'error', message: error instanceof Error ? error.message : String(error) });
  }
}

main().catch((error) => {
  parentPort?.postMessage({ type: 'error', message: error instanceof Error ? error.message : String(error) });
});
