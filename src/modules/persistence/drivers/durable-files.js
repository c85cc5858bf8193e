// @ts-check
// Makes the embedded engine's commits durable. PGlite runs Postgres with fsync off, and its file system layer
// (Emscripten's NODEFS over node:fs) turns fsync/fdatasync into no-ops: a commit's WAL reaches the OS page cache,
// not the disk. This module watches the engine's file writes through node:fs (this worker thread's own module
// object, which NODEFS calls) and syncs what Postgres would have synced:
// - the WAL: `syncWal()` fdatasyncs every WAL segment written since the last call (and the WAL directory after a
//   segment was created or renamed); the worker calls it before any reply byte reaches the client, so an ack
//   always follows the sync of its commit's WAL — one sync per commit group;
// - the data files: before the control file is written (the end of a checkpoint, which lets old WAL be removed or
//   recycled), every data file written since the last checkpoint is fdatasynced, then the control file itself.
'use strict';
const fs = require('node:fs');
const { relative, resolve, sep } = require('node:path');

const CONTROL_FILE = ['global', 'pg_control'].join(sep);
const WAL_DIR = 'pg_wal';

/**
 * @param {string} dataDir the engine's data directory, as the engine opens its files
 * @returns {{ syncWal(): void, syncAll(): void, stats: { walSyncs: number, dataSyncs: number, dirSyncs: number } }}
 */
function watchDurability(dataDir) {
  dataDir = resolve(dataDir);
  /** @type {Map<number, string>} fd → path relative to dataDir, for the engine's own files */
  const paths = new Map();
  /** @type {Set<number>} */
  const dirtyWal = new Set();
  /** @type {Set<number>} */
  const dirtyData = new Set();
  let walDirChanged = false;
  const stats = { walSyncs: 0, dataSyncs: 0, dirSyncs: 0 };

  /** @param {fs.PathLike} path */
  const inDataDir = (path) => {
    const rel = relative(dataDir, String(path));
    return rel.startsWith('..') || rel.startsWith(sep) ? undefined : rel;
  };
  /** @param {string} rel */
  const isWal = (rel) => rel.startsWith(`${WAL_DIR}${sep}`);

  const syncWal = () => {
    for (const fd of dirtyWal) {
      fs.fdatasyncSync(fd);
      stats.walSyncs += 1;
    }
    dirtyWal.clear();
    if (walDirChanged) {
      const dir = fs.openSync(`${dataDir}${sep}${WAL_DIR}`, 'r');
      try {
        fs.fsyncSync(dir);
        stats.dirSyncs += 1;
      } finally {
        fs.closeSync(dir);
      }
      walDirChanged = false;
    }
  };
  const syncData = () => {
    for (const fd of dirtyData) {
      fs.fdatasyncSync(fd);
      stats.dataSyncs += 1;
    }
    dirtyData.clear();
  };

  const { openSync, writeSync, closeSync, renameSync, unlinkSync } = fs;
  // @ts-expect-error the overloads of openSync are kept: every argument is passed through
  fs.openSync = (path, ...rest) => {
    const fd = openSync(path, ...rest);
    const rel = inDataDir(path);
    if (rel !== undefined) {
      paths.set(fd, rel);
      if (isWal(rel) && typeof rest[0] === 'number' && (rest[0] & fs.constants.O_CREAT) !== 0) {
        walDirChanged = true;
      }
    }
    return fd;
  };
  // @ts-expect-error the overloads of writeSync are kept: every argument is passed through
  fs.writeSync = (fd, ...rest) => {
    const rel = paths.get(fd);
    if (rel === CONTROL_FILE) {
      // A checkpoint is complete once the control file says so: everything it wrote must be on disk first.
      syncData();
      syncWal();
    }
    const written = writeSync(fd, ...rest);
    if (rel === CONTROL_FILE) {
      fs.fdatasyncSync(fd);
      stats.dataSyncs += 1;
    } else if (rel !== undefined) {
      (isWal(rel) ? dirtyWal : dirtyData).add(fd);
    }
    return written;
  };
  fs.closeSync = (fd) => {
    // A written file is synced before its descriptor goes (it could not be synced later).
    const wal = dirtyWal.delete(fd);
    const data = dirtyData.delete(fd);
    if (wal || data) {
      fs.fdatasyncSync(fd);
      stats[wal ? 'walSyncs' : 'dataSyncs'] += 1;
    }
    paths.delete(fd);
    closeSync(fd);
  };
  fs.renameSync = (from, to) => {
    renameSync(from, to);
    const rel = inDataDir(to);
    if (rel !== undefined && isWal(rel)) {
      walDirChanged = true;
    }
  };
  fs.unlinkSync = (path) => {
    unlinkSync(path);
    const rel = inDataDir(path);
    if (rel !== undefined && isWal(rel)) {
      walDirChanged = true;
    }
  };

  return {
    syncWal,
    syncAll: () => {
      syncData();
      syncWal();
    },
    stats,
  };
}

module.exports = { watchDurability };
