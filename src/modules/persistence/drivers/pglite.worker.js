// @ts-check
// The embedded Postgres (PGlite) in its own thread, serving the Postgres wire protocol on a Unix socket
// in a private directory, so the thread that serves HTTP and sockets never waits on the engine.
// Started as a process of its own instead (`node pglite.worker.js <dir>`), it only creates a data directory there
// (the initdb process of `first-start.js`).
'use strict';
const { isMainThread, parentPort, workerData } = require('node:worker_threads');
const fs = require('node:fs');
const { ensureDataDir, syncTree } = require('./first-start');
// Before the engine loads: it must open its files through the watched node:fs.
const { watchDurability } = require('./durable-files');
const { MemoryFS, PGlite } = require('@electric-sql/pglite');
const { PGLiteSocketServer } = require('@electric-sql/pglite-socket');

/** @type {{ dataDir: string, socketPath?: string }} */
const { dataDir, socketPath } = isMainThread ? { dataDir: process.argv[2] } : workerData;

/**
 * Memory. The engine's WebAssembly memory starts at 128 MB (its floor) and never shrinks; Postgres's shared buffers
 * live in it and are all touched at start. PGlite's default, 128 MB of buffers, made it ~190 MB, resident from the
 * first second; 16 MB keeps it at the floor, most of it untouched (bench/MEMORY.md: the figures, and the group
 * commit rate measured before and after). wal_buffers follows (1/32 of shared_buffers).
 */
const SETTINGS = ['-c', 'shared_buffers=16MB'];
const ENGINE_OPTIONS = { startParams: [...PGlite.defaultStartParams, ...SETTINGS], initDbStartParams: SETTINGS };
/** Where PGlite's file system layer mounts the data directory inside the engine (as its NodeFS does). */
const PGDATA_MOUNT = '/pglite/data';

async function main() {
  // Made before the app loaded on a server's first start; here for whatever else starts the engine first.
  await ensureDataDir(dataDir);
  const durability = watchDurability(dataDir);
  const db = await PGlite.create(dataDir, ENGINE_OPTIONS);
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
 * In the initdb process: a new cluster at `dataDir` (which must not exist), every file and directory of it synced.
 * It gives up when the server that started it is gone (its IPC channel closed): a server killed during its first start
 * leaves no process behind writing into the directory the next start clears.
 */
async function initdb() {
  process.once('disconnect', () => process.exit(1));
  fs.mkdirSync(dataDir, { mode: 0o700 });
  const db = await PGlite.create({ ...ENGINE_OPTIONS, fs: new InitdbFS(dataDir) });
  await db.close();
  syncTree(dataDir);
}

/**
 * The data directory on disk, mounted as PGlite's NodeFS mounts it, but a MemoryFS to PGlite 0.5: for a MemoryFS it
 * runs initdb straight into the engine's file system; for any other it builds the directory in memory, dumps it to
 * a tar and unpacks that (~250 MB more at the first start's peak). Used for initdb only. Were a later PGlite to drop
 * that distinction, the files would be the same, made the costlier way.
 */
class InitdbFS extends MemoryFS {
  /** @param {string} root */
  constructor(root) {
    super();
    this.root = root;
  }

  /** @type {MemoryFS['init']} */
  async init(pg, emscriptenOptions) {
    const { emscriptenOpts } = await super.init(pg, emscriptenOptions);
    /** @param {any} mod the Emscripten module */
    const mount = (mod) => {
      mod.FS.mkdirTree(PGDATA_MOUNT);
      mod.FS.mount(mod.FS.filesystems.NODEFS, { root: this.root }, PGDATA_MOUNT);
    };
    return { emscriptenOpts: { ...emscriptenOpts, preRun: [...(emscriptenOpts.preRun ?? []), mount] } };
  }
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

if (isMainThread) {
  initdb().then(
    () => process.exit(0),
    (error) => {
      process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
} else {
  main().catch((error) => {
    parentPort?.postMessage({ type: 'error', message: error instanceof Error ? error.message : String(error) });
  });
}
