// @ts-check
// The embedded Postgres (PGlite) in its own thread, serving the Postgres wire protocol on a Unix socket
// in a private directory, so the thread that serves HTTP and sockets never waits on the engine.
// Started as a process of its own instead (`node pglite.worker.js <dir>`), it only creates a data directory there
// (see `createDataDir`).
'use strict';
const { fork } = require('node:child_process');
const { randomBytes } = require('node:crypto');
const { isMainThread, parentPort, workerData } = require('node:worker_threads');
const fs = require('node:fs');
const { basename, dirname, join } = require('node:path');
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
  if (!fs.existsSync(join(dataDir, 'PG_VERSION')) && isMissingOrEmpty(dataDir)) {
    await createDataDir();
  }
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
 * The first start. PGlite's initdb runs a second engine whose 128 MB heap it copies and restores around each step,
 * beside the first; their garbage outlives `PGlite.create` by minutes. So the directory is made by a process of its
 * own, which hands all of it back to the system when it exits, and the engine then opens the directory as on any
 * restart. A process, not a thread (as in 178a676): a first start once died of SIGSEGV in CI (Node 24)
 * with the thread, ended by `terminate()` while this one compiled its own engine, the likeliest cause (ending a worker
 * that holds WebAssembly has crashed Node before, nodejs/node#47748); a process shares nothing with this one, and
 * should it crash, the server reports it instead of dying.
 *
 * Durability: the directory is made beside its place (`pgdata.initdb-<random>`), every file and directory of it
 * fsynced, then renamed into place, and the directories holding it fsynced: once the engine is ready (before any ack)
 * the whole cluster is on disk, and a crash at any point before leaves either no `pgdata` or a complete one
 * (Postgres's initdb syncs its directory at the end the same way). Leftovers of interrupted first starts are removed
 * first. Each start has a name of its own because an initdb process may outlive a server killed with SIGKILL by a few
 * seconds (it notices between steps only): writing by path, it would write into the next start's directory were it of
 * the same name; its own removed, it fails instead.
 */
async function createDataDir() {
  const parent = dirname(dataDir);
  const prefix = `${basename(dataDir)}.initdb`;
  for (const name of fs.readdirSync(parent)) {
    if (name.startsWith(prefix)) {
      fs.rmSync(join(parent, name), { recursive: true, force: true, maxRetries: 5 });
    }
  }
  const fresh = join(parent, `${prefix}-${randomBytes(6).toString('hex')}`);
  await runInitdbProcess(fresh);
  // rename(2) replaces an empty directory.
  fs.renameSync(fresh, dataDir);
  syncPath(parent);
  // The directory holding it may be as new (a fresh DATA_DIR's `db`): its entry too.
  syncPath(dirname(parent));
}

/**
 * `node pglite.worker.js <dir>`, resolved when it exited with 0. What it printed to stderr (the end of it) is in the
 * error otherwise. No inherited flags (`execArgv`): it needs none.
 * @param {string} dir
 * @returns {Promise<void>}
 */
function runInitdbProcess(dir) {
  return new Promise((resolve, reject) => {
    const child = fork(__filename, [dir], { execArgv: [], stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (chunk) => {
      stderr = (stderr + chunk).slice(-2000);
    });
    child.once('error', reject);
    child.once('close', (code, signal) => {
      if (code === 0) {
        resolve();
      } else {
        const how = signal ? `signal ${signal}` : `code ${code}`;
        reject(new Error(`initdb process exited with ${how}${stderr.trim() ? `: ${stderr.trim()}` : ''}`));
      }
    });
  });
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

/** @param {string} dir */
function isMissingOrEmpty(dir) {
  try {
    return fs.readdirSync(dir).length === 0;
  } catch (error) {
    if (/** @type {NodeJS.ErrnoException} */ (error).code === 'ENOENT') {
      return true;
    }
    throw error;
  }
}

/** fsyncs every file and directory under `dir`, each directory after what it holds. @param {string} dir */
function syncTree(dir) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      syncTree(path);
    } else if (entry.isFile()) {
      syncPath(path);
    }
  }
  syncPath(dir);
}

/** @param {string} path a file or a directory */
function syncPath(path) {
  const fd = fs.openSync(path, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
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
