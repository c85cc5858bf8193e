import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DataDirInUseError,
  LOCK_FILE,
  lockDataDir,
  processStart,
  type DataDirLock,
  type LockHolder,
} from './data-dir-lock';

const tempDirs: string[] = [];
const locks: DataDirLock[] = [];
const children: ChildProcess[] = [];

function makeDataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), `data-dir-lock-${randomUUID()}-`));
  tempDirs.push(dir);
  return dir;
}

function lock(dataDir: string): DataDirLock {
  const held = lockDataDir(dataDir);
  locks.push(held);
  return held;
}

function holderIn(dataDir: string): LockHolder {
  return JSON.parse(readFileSync(join(dataDir, LOCK_FILE), 'utf8')) as LockHolder;
}

/** The holder this process would write (its scope and start time as the lock records them). */
function thisProcess(): LockHolder {
  const dataDir = makeDataDir();
  const held = lockDataDir(dataDir);
  const holder = holderIn(dataDir);
  held.release();
  return holder;
}

function writeHolder(dataDir: string, holder: LockHolder): void {
  writeFileSync(join(dataDir, LOCK_FILE), JSON.stringify(holder));
}

function refusalOf(dataDir: string): DataDirInUseError {
  try {
    lock(dataDir);
  } catch (error) {
    if (error instanceof DataDirInUseError) {
      return error;
    }
    throw error;
  }
  throw new Error('lockDataDir did not refuse');
}

async function startChild(): Promise<ChildProcess & { pid: number }> {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000); console.log("up")']);
  children.push(child);
  await once(child.stdout, 'data');
  return child as ChildProcess & { pid: number };
}

/** Polls a state of the kernel, for which there is no event (at most 5 s). */
async function until(condition: () => boolean): Promise<void> {
  for (let waited = 0; !condition(); waited += 20) {
    if (waited > 5000) {
      throw new Error('condition not met within 5 s');
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

afterEach(async () => {
  for (const held of locks.splice(0)) {
    held.release();
  }
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
  }
  for (const dir of tempDirs.splice(0)) {
    rmSync(dir, { recursive: true, force: true });
  }
});

describe(lockDataDir.name, () => {
  it('should take a free DATA_DIR and record this process as its holder', () => {
    const dataDir = makeDataDir();

    lock(dataDir);

    expect(holderIn(dataDir)).toMatchObject({ pid: process.pid, started: processStart(process.pid) });
  });

  it('should create DATA_DIR when it does not exist yet', () => {
    const dataDir = join(makeDataDir(), 'nested', 'data');

    lock(dataDir);

    expect(holderIn(dataDir).pid).toBe(process.pid);
  });

  it('should refuse a held DATA_DIR with one line naming it and the holder pid', () => {
    const dataDir = makeDataDir();
    lock(dataDir);

    const sut = refusalOf(dataDir);

    expect(sut.message).toBe(
      `DATA_DIR ${dataDir} is in use by another process (pid ${process.pid}); stop it first or use another DATA_DIR`,
    );
  });

  it('should refuse a DATA_DIR whose holder is another live process', async () => {
    const dataDir = makeDataDir();
    const child = await startChild();
    writeHolder(dataDir, { ...thisProcess(), pid: child.pid, started: processStart(child.pid), token: randomUUID() });

    const sut = refusalOf(dataDir);

    expect(sut.holder.pid).toBe(child.pid);
    expect(sut.message).toContain(`(pid ${child.pid})`);
  });

  it('should take DATA_DIR over from a holder that was killed', async () => {
    const dataDir = makeDataDir();
    const child = await startChild();
    writeHolder(dataDir, { ...thisProcess(), pid: child.pid, started: processStart(child.pid), token: randomUUID() });
    child.kill('SIGKILL');
    await once(child, 'exit');

    lock(dataDir);

    expect(holderIn(dataDir).pid).toBe(process.pid);
  });

  it('should take DATA_DIR over from a holder that exited but was not reaped yet (a zombie)', async () => {
    const dataDir = makeDataDir();
    // sh starts a short sleep, then becomes a long one that never reaps it: the short one stays a zombie.
    const parent = spawn('sh', ['-c', 'sleep 0.3 & echo $!; exec sleep 30']);
    children.push(parent);
    const [out] = (await once(parent.stdout, 'data')) as [Buffer];
    const pid = Number(out.toString().trim());
    writeHolder(dataDir, { ...thisProcess(), pid, started: processStart(pid), token: randomUUID() });
    expect(refusalOf(dataDir).holder.pid).toBe(pid);
    await until(() => readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z '));

    lock(dataDir);

    expect(holderIn(dataDir).pid).toBe(process.pid);
  });

  it('should take DATA_DIR over from a holder whose pid now belongs to another process', () => {
    const dataDir = makeDataDir();
    writeHolder(dataDir, { ...thisProcess(), started: 'an earlier process', token: randomUUID() });

    lock(dataDir);

    expect(holderIn(dataDir).started).toBe(processStart(process.pid));
  });

  it('should take over a lock file it cannot read', () => {
    const dataDir = makeDataDir();
    writeFileSync(join(dataDir, LOCK_FILE), 'not json');

    lock(dataDir);

    expect(holderIn(dataDir).pid).toBe(process.pid);
  });

  describe('a holder in another container or on another host', () => {
    function foreignHolder(): LockHolder {
      return { pid: 1, started: '42', scope: `elsewhere-${randomUUID()}`, host: 'web-7d9f', token: randomUUID() };
    }

    it('should refuse while its heartbeat is fresh, naming its host', () => {
      const dataDir = makeDataDir();
      writeHolder(dataDir, foreignHolder());

      const sut = refusalOf(dataDir);

      expect(sut.message).toBe(
        `DATA_DIR ${dataDir} is in use by another process (pid 1 on web-7d9f); stop it first or use another DATA_DIR`,
      );
    });

    it('should take over once its heartbeat stopped for 30 s', () => {
      const dataDir = makeDataDir();
      writeHolder(dataDir, foreignHolder());
      const longAgo = new Date(Date.now() - 31_000);
      utimesSync(join(dataDir, LOCK_FILE), longAgo, longAgo);

      lock(dataDir);

      expect(holderIn(dataDir).pid).toBe(process.pid);
    });
  });

  describe('release', () => {
    it('should remove the lock file, so the next process takes DATA_DIR at once', () => {
      const dataDir = makeDataDir();
      const sut = lockDataDir(dataDir);

      sut.release();

      expect(existsSync(join(dataDir, LOCK_FILE))).toBe(false);
      expect(() => lock(dataDir)).not.toThrow();
    });

    it('should leave a lock file that another process has taken over', () => {
      const dataDir = makeDataDir();
      const sut = lockDataDir(dataDir);
      const other = { ...thisProcess(), pid: 1, scope: 'elsewhere', token: randomUUID() };
      writeHolder(dataDir, other);

      sut.release();

      expect(holderIn(dataDir)).toEqual(other);
    });
  });
});
