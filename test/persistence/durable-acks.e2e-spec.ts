/**
 * An ack of the embedded database means the commit is on disk (README "Durability"): traced with strace, every ack
 * follows an fdatasync of the WAL its commit wrote, and a checkpoint syncs the data files it wrote before the
 * control file lets old WAL go. The first start's cluster (made by initdb beside its place and renamed into it) is
 * on disk, every file and directory of it, before the engine is ready.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readdir, readFile, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';

const ROOT = join(__dirname, '..', '..');
const SENDS = 8;

interface Call {
  pid: string;
  name: string;
  fd: number;
  path?: string;
  /** The text written, for writes to stdout. */
  text?: string;
  /** Where a rename moved `path` to (`rename` and `unlink` calls have no descriptor: `fd` -1). */
  to?: string;
}

/**
 * The calls of an `strace -f -y` log in the order they completed their effect: a write counts from its start (its
 * bytes may be in the file from then on), a sync from its end (`<unfinished ...>` / `resumed`).
 */
function parseTrace(log: string): Call[] {
  const calls: Call[] = [];
  const pending = new Map<string, Call>();
  for (const line of log.split('\n')) {
    const resumed = /^(\d+)\s+[\d.]+ <\.\.\. (\w+) resumed>/.exec(line);
    if (resumed) {
      const call = pending.get(resumed[1]);
      pending.delete(resumed[1]);
      if (call && call.name !== 'write' && call.name !== 'pwrite64') {
        calls.push(call);
      }
      continue;
    }
    const renamed = /^(\d+)\s+[\d.]+ (rename|unlink)\("([^"]*)"(?:, "([^"]*)")?/.exec(line);
    const started = /^(\d+)\s+[\d.]+ (\w+)\((\d+)<([^>]*)>(?:, "((?:[^"\\]|\\.)*)")?/.exec(line);
    if (!started && !renamed) {
      continue;
    }
    const call: Call = renamed
      ? { pid: renamed[1], name: renamed[2], fd: -1, path: renamed[3], to: renamed[4] }
      : { pid: started![1], name: started![2], fd: Number(started![3]), path: started![4], text: started![5] };
    const unfinished = line.endsWith('<unfinished ...>');
    if (unfinished) {
      pending.set(call.pid, call);
    }
    if (!unfinished || call.name === 'write' || call.name === 'pwrite64') {
      calls.push(call);
    }
  }
  return calls;
}

const isWrite = (call: Call) => call.name === 'write' || call.name === 'pwrite64';
const isSync = (call: Call) => call.name === 'fdatasync' || call.name === 'fsync';
const isWal = (call: Call) => /\/pgdata\/pg_wal\/[0-9A-F]{24}$/.test(call.path ?? '');
const isDataFile = (call: Call) => /\/pgdata\/(base\/\d+|global)\/\d+(_fsm|_vm)?(\.\d+)?$/.test(call.path ?? '');
const isControlFile = (call: Call) => (call.path ?? '').endsWith('/pgdata/global/pg_control');
const stdoutText = (call: Call) => (call.name === 'write' && call.fd === 1 ? call.text : undefined);

describe('durable acks on the embedded database (strace)', () => {
  let dataDir: string;
  let calls: Call[];

  // One traced run of the probe in a fresh DATA_DIR: its first start, then the acks and a checkpoint.
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'chat-durable-'));
    const traceFile = join(dataDir, 'trace.log');
    const child = spawn(
      'strace',
      [
        ...['-f', '-y', '-qq', '-ttt', '-e', 'trace=write,pwrite64,fdatasync,fsync,rename,unlink', '-e', 'signal=none'],
        ...['-o', traceFile, process.execPath, join(__dirname, '..', 'support', 'durability-probe.js')],
        ...[join(ROOT, 'dist'), join(dataDir, 'data'), String(SENDS)],
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const [code] = (await once(child, 'exit')) as [number | null];
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(stdout.trim().split('\n')).toEqual([
      'ready',
      ...Array.from({ length: SENDS }, (_, i) => `ack ${i + 1}`),
      'checkpointed',
    ]);
    calls = parseTrace(await readFile(traceFile, 'utf8'));
  }, 120_000);

  afterAll(() => rm(dataDir, { recursive: true, force: true }));

  it('should fdatasync the WAL a commit wrote before its ack, and the data files before a checkpoint completes', () => {
    const ready = calls.findIndex((call) => stdoutText(call) === 'ready\\n');
    expect(ready).toBeGreaterThan(-1);

    // Every ack: the WAL written since the previous one was written, then synced, before the ack went out.
    const unsynced = new Set<string>();
    const perAck: { walWrites: number; walSyncs: number; unsyncedAtAck: string[] }[] = [];
    let walWrites = 0;
    let walSyncs = 0;
    let index = ready + 1;
    for (; index < calls.length; index += 1) {
      const call = calls[index];
      if (isWal(call) && isWrite(call)) {
        unsynced.add(call.path!);
        walWrites += 1;
      } else if (isWal(call) && isSync(call)) {
        unsynced.delete(call.path!);
        walSyncs += 1;
      } else if (stdoutText(call)?.startsWith('ack ')) {
        perAck.push({ walWrites, walSyncs, unsyncedAtAck: [...unsynced] });
        walWrites = 0;
        walSyncs = 0;
      } else if (stdoutText(call) === 'checkpointed\\n') {
        break;
      }
    }
    expect(perAck).toHaveLength(SENDS);
    for (const ack of perAck) {
      expect(ack.unsyncedAtAck).toEqual([]);
      expect(ack.walWrites).toBeGreaterThan(0);
      expect(ack.walSyncs).toBeGreaterThan(0);
    }

    // The checkpoint (after the last ack): each data file it wrote is synced before the control file is written.
    const lastAck = calls.findIndex((call) => stdoutText(call) === `ack ${SENDS}\\n`);
    const checkpoint = calls.slice(lastAck + 1, index + 1);
    const control = checkpoint.findIndex((call) => isControlFile(call) && isWrite(call));
    expect(control).toBeGreaterThan(-1);
    const written = new Set(
      checkpoint
        .slice(0, control)
        .filter((c) => isDataFile(c) && isWrite(c))
        .map((c) => c.path),
    );
    const synced = new Set(
      checkpoint
        .slice(0, control)
        .filter((c) => isDataFile(c) && isSync(c))
        .map((c) => c.path),
    );
    expect(written.size).toBeGreaterThan(0);
    expect([...written].filter((path) => !synced.has(path))).toEqual([]);
    expect(checkpoint.slice(control).some((call) => isControlFile(call) && isSync(call))).toBe(true);
  });

  it('should fsync every file and directory of a new cluster before renaming it into place, and its directory after', async () => {
    // A rename shows the paths as the worker passed them, a sync the descriptor's path as the kernel resolves it.
    const passed = join(dataDir, 'data', 'db', 'pgdata');
    const ready = calls.findIndex((call) => stdoutText(call) === 'ready\\n');
    const renamed = calls.findIndex(
      (call) => call.name === 'rename' && /\.initdb-[0-9a-f]{12}$/.test(call.path ?? '') && call.to === passed,
    );
    expect(renamed).toBeGreaterThan(-1);
    expect(renamed).toBeLessThan(ready);
    const passedFresh = calls[renamed].path!;
    const pgdata = join(await realpath(dataDir), 'data', 'db', 'pgdata');
    const fresh = pgdata + passedFresh.slice(passed.length);

    // Each file the first start wrote is synced after its last write, before the rename.
    const made = calls.slice(0, renamed);
    const inFresh = (call: Call) => (call.path ?? '').startsWith(`${fresh}/`);
    const lastWrite = new Map<string, number>();
    const real = (path: string) => (path.startsWith(`${passedFresh}/`) ? fresh + path.slice(passedFresh.length) : path);
    made.forEach((call, index) => {
      if (inFresh(call) && isWrite(call)) {
        lastWrite.set(call.path!, index);
      } else if (call.name === 'rename' && lastWrite.has(real(call.path!))) {
        // Written under a temporary name (pg_internal.init.42 …): synced under its own.
        lastWrite.set(real(call.to!), lastWrite.get(real(call.path!))!);
        lastWrite.delete(real(call.path!));
      } else if (call.name === 'unlink') {
        lastWrite.delete(real(call.path!));
      }
    });
    expect(lastWrite.size).toBeGreaterThan(100);
    const syncedAfter = (path: string, from: number) =>
      made.some((call, index) => index > from && call.path === path && isSync(call));
    expect([...lastWrite].filter(([path, index]) => !syncedAfter(path, index))).toEqual([]);

    // Each directory of the cluster (so every file's name in it) is fsynced after the last write, before the rename.
    const lastWriteOfAll = Math.max(...lastWrite.values());
    const directories = [fresh, ...(await directoriesUnder(pgdata)).map((dir) => join(fresh, relative(pgdata, dir)))];
    expect(directories.length).toBeGreaterThan(10);
    expect(directories.filter((dir) => !syncedAfter(dir, lastWriteOfAll))).toEqual([]);

    // Then the directory holding it (its new name) and the one above (a fresh DATA_DIR's `db`), before ready.
    const after = calls.slice(renamed + 1, ready);
    for (const dir of [dirname(pgdata), dirname(dirname(pgdata))]) {
      expect({ dir, synced: after.some((call) => call.path === dir && isSync(call)) }).toEqual({ dir, synced: true });
    }
  });
});

async function directoriesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((entry) => entry.isDirectory()).map((entry) => join(entry.parentPath, entry.name));
}
