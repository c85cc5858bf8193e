// @ts-check
// The embedded Postgres (PGlite) in its own thread, serving the Postgres wire protocol on a Unix socket
// in a private directory, so the thread that serves HTTP and sockets never waits on the engine.
'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const { PGlite } = require('@electric-sql/pglite');
const { PGLiteSocketServer } = require('@electric-sql/pglite-socket');

/** @type {{ dataDir: string, socketPath: string }} */
const { dataDir, socketPath } = workerData;

async function main() {
  const db = await PGlite.create(dataDir);
  // One connection: the engine is a single backend session shared by every client of the socket.
  const server = new PGLiteSocketServer({ db, path: socketPath, maxConnections: 1 });
  await server.start();
  parentPort?.on('message', (message) => {
    if (message && message.type === 'stop') {
      void stop(server, db);
    }
  });
  parentPort?.postMessage({ type: 'ready' });
}

/** @param {PGLiteSocketServer} server @param {PGlite} db */
async function stop(server, db) {
  try {
    await server.stop();
    await db.close();
    parentPort?.postMessage({ type: 'stopped' });
  } catch (error) {
    parentPort?.postMessage({ type: 'error', message: error instanceof Error ? error.message : String(error) });
  }
}

main().catch((error) => {
  parentPort?.postMessage({ type: 'error', message: error instanceof Error ? error.message : String(error) });
});
