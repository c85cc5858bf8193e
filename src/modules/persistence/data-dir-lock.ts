/**
 * One writer per DATA_DIR. The embedded engine keeps its files in DATA_DIR and knows nothing of other processes:
 * two on one directory would both write and lose data. `lockDataDir` makes a second one refuse instead.
 *
 * The lock is a file, `<DATA_DIR>/db.lock`, made atomically (a complete file hard-linked into place) and holding who
 * holds it: pid, the process's start time and where it runs. It is no OS lock, so a holder that died leaves it
 * behind, and the next process decides whether its holder still lives:
 * - on the same machine and in the same pid namespace, by the pid: a process of that pid that started at the
 *   recorded time (Linux: `/proc/<pid>/stat`, so a reused pid is not mistaken for the holder; elsewhere: signal 0);
 * - anywhere else (another container on the same volume, another host), by a heartbeat: the holder touches the file
 *   every `HEARTBEAT_MS`, and a file untouched for `STALE_MS` is stale.
 * A stale lock is taken over at once, so a crash (SIGKILL, OOM) never leaves the directory stuck.
 *
 * Why not proper-lockfile: it names no holder, a crashed holder blocks a restart for its whole stale window, and its
 * mtime heartbeat is its only liveness test (an event loop stalled past the window loses the lock).
 */
import { randomUUID } from 'node:crypto';
import {
  linkSync,
  mkdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  statSync,
  unlinkSync,
  utimes,
  writeFileSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { StartupError } from '../../config/startup-error';

export const LOCK_FILE = 'db.lock';
const HEARTBEAT_MS = 5_000;
const STALE_MS = 30_000;

/** What the lock file holds. */
export interface LockHolder {
  pid: number;
  /** The process's start time as the kernel counts it (`/proc/<pid>/stat` field 22); null where there is no /proc. */
  started: string | null;
  /** Machine and pid namespace: where `pid` means this process. */
  scope: string;
  host: string;
  /** Unique per acquisition, so that a takeover removes exactly the stale file it judged. */
  token: string;
}

export class DataDirInUseError extends StartupError {
  override readonly name = 'DataDirInUseError';

  constructor(
    readonly dataDir: string,
    readonly holder: LockHolder,
  ) {
    const who = holder.scope === currentScope() ? `pid ${holder.pid}` : `pid ${holder.pid} on ${holder.host}`;
    super(`DATA_DIR ${dataDir} is in use by another process (${who}); stop it first or use another DATA_DIR`);
  }
}

/** The held lock: `release()` removes the file (if it is still this process's) and stops the heartbeat. */
export interface DataDirLock {
  release(): void;
}

/** Takes DATA_DIR for this process, or throws DataDirInUseError naming the live holder. */
export function lockDataDir(dataDir: string): DataDirLock {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const file = join(dataDir, LOCK_FILE);
  const me: LockHolder = {
    pid: process.pid,
    started: processStart(process.pid),
    scope: currentScope(),
    host: hostname(),
    token: randomUUID(),
  };
  const mine = JSON.stringify(me);
  const draft = `${file}.${me.token}`;
  writeFileSync(draft, mine, { mode: 0o600 });
  try {
    // Each pass either takes the lock, refuses, or removes one stale file; three passes cover a racing takeover.
    for (let pass = 0; pass < 3; pass++) {
      try {
        linkSync(draft, file);
        return held(file, mine);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
          throw error;
        }
      }
      const found = readText(file);
      if (found === undefined) {
        continue; // released in between
      }
      const holder = parseHolder(found);
      if (holder && isAlive(holder, file)) {
        throw new DataDirInUseError(dataDir, holder);
      }
      removeStale(file, found, me.token);
    }
    const holder = parseHolder(readText(file) ?? '');
    throw holder ? new DataDirInUseError(dataDir, holder) : new Error(`could not take ${file}`);
  } finally {
    unlinkSync(draft);
  }
}

function held(file: string, mine: string): DataDirLock {
  const heartbeat = setInterval(() => {
    const now = new Date();
    utimes(file, now, now, () => undefined);
  }, HEARTBEAT_MS).unref();
  let released = false;
  return {
    release() {
      if (released) {
        return;
      }
      released = true;
      clearInterval(heartbeat);
      if (readText(file) === mine) {
        unlinkSync(file);
      }
    },
  };
}

/**
 * Moves the stale file aside and deletes it, but only if it is the one judged: should another process have taken
 * the lock over in between, its file is put back.
 */
function removeStale(file: string, judged: string, token: string): void {
  const aside = `${file}.stale-${token}`;
  try {
    renameSync(file, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      return;
    }
    throw error;
  }
  if (readText(aside) !== judged) {
    try {
      linkSync(aside, file);
    } catch {
      // a third process took the lock meanwhile: it holds it now
    }
  }
  unlinkSync(aside);
}

function isAlive(holder: LockHolder, file: string): boolean {
  if (holder.scope !== currentScope()) {
    try {
      return Date.now() - statSync(file).mtimeMs < STALE_MS;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        return false; // released in between
      }
      throw error;
    }
  }
  if (holder.started !== null) {
    return processStart(holder.pid) === holder.started;
  }
  try {
    process.kill(holder.pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function parseHolder(text: string): LockHolder | undefined {
  try {
    const value = JSON.parse(text) as Partial<LockHolder>;
    return typeof value.pid === 'number' && typeof value.scope === 'string' ? (value as LockHolder) : undefined;
  } catch {
    return undefined; // not ours to understand: taken for stale
  }
}

/**
 * When process `pid` started: field 22 of `/proc/<pid>/stat` (counted after the command name, which may hold spaces and
 * parentheses). Null when there is no such process, or it has exited and only waits for its parent to reap it
 * (a zombie: state Z or X), or there is no /proc.
 */
export function processStart(pid: number): string | null {
  const stat = readText(`/proc/${pid}/stat`);
  if (stat === undefined) {
    return null;
  }
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return fields[0] === 'Z' || fields[0] === 'X' ? null : (fields[19] ?? null);
}

let scope: string | undefined;

/** This machine's boot and this process's pid namespace (Linux), or the host name elsewhere. */
function currentScope(): string {
  scope ??= (() => {
    const boot = readText('/proc/sys/kernel/random/boot_id')?.trim();
    if (boot === undefined) {
      return `host ${hostname()}`;
    }
    let namespace = '';
    try {
      namespace = readlinkSync('/proc/self/ns/pid');
    } catch {
      // no namespace to tell: the boot alone
    }
    return `${boot} ${namespace}`;
  })();
  return scope;
}

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      return undefined;
    }
    throw error;
  }
}
