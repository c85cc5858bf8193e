// @ts-check
// A first start of the embedded engine: its data directory made by initdb in a process of its own
// (`node pglite.worker.js <dir>`). Node's builtins only, so that `main.ts` can make the directory before the app's
// modules load (bench/MEMORY.md: the app and the initdb process no longer peak together); the engine's worker calls it
// too when it finds no cluster (`npm run migrate`, tests that start the database themselves).
'use strict';
const { fork } = require('node:child_process');
const { randomBytes } = require('node:crypto');
const fs = require('node:fs');
const { basename, dirname, join } = require('node:path');

/**
 * Whether the directory holds anything: a cluster, or what initdb must not write over (a missing or empty one is
 * made).
 * @param {string} dataDir a cluster's directory (`<DATA_DIR>/db/pgdata`)
 */
function hasCluster(dataDir) {
  return !isMissingOrEmpty(dataDir);
}

/**
 * Makes a new cluster at `dataDir` unless it holds one (or anything) already.
 * @param {string} dataDir
 * @returns {Promise<void>}
 */
async function ensureDataDir(dataDir) {
  if (!hasCluster(dataDir)) {
    await createDataDir(dataDir);
  }
}

/**
 * The first start. PGlite's initdb runs a second engine whose 128 MB heap it copies and restores around each step,
 * beside the first; their garbage outlives `PGlite.create` by minutes. So the directory is made by a process of its
 * own, which hands all of it back to the system when it exits, and the engine then opens the directory as on any
 * restart. A process, not a thread (as in 178a676): a first start once died of SIGSEGV in CI (Node 24)
 * with the thread, ended by `terminate()` while the engine compiled its own, the likeliest cause (ending a worker
 * that holds WebAssembly has crashed Node before, nodejs/node#47748); a process shares nothing with the server, and
 * should it crash, the server reports it instead of dying.
 *
 * Durability: the directory is made beside its place (`pgdata.initdb-<random>`), every file and directory of it
 * fsynced, then renamed into place, and the directories holding it fsynced: once the engine is ready (before any ack)
 * the whole cluster is on disk, and a crash at any point before leaves either no `pgdata` or a complete one
 * (Postgres's initdb syncs its directory at the end the same way). Leftovers of interrupted first starts are removed
 * first. Each start has a name of its own because an initdb process may outlive a server killed with SIGKILL by a few
 * seconds (it notices between steps only): writing by path, it would write into the next start's directory were it of
 * the same name; its own removed, it fails instead.
 * @param {string} dataDir
 */
async function createDataDir(dataDir) {
  const parent = dirname(dataDir);
  fs.mkdirSync(parent, { recursive: true, mode: 0o700 });
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
    const child = fork(join(__dirname, 'pglite.worker.js'), [dir], {
      execArgv: [],
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
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

module.exports = { hasCluster, ensureDataDir, syncTree };
