/**
 * Starts and stops a real, throwaway PostgreSQL server for tests.
 *
 * The binaries come from the newest Debian-style `/usr/lib/postgresql/<version>/bin/`, falling back to PATH.
 * PostgreSQL refuses to run as root, so when this process is root the data directory is handed to the
 * `postgres` OS user and every binary runs through `runuser -u postgres --`.
 */
import { execFile as execFileCallback, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';

const execFile = promisify(execFileCallback);

export interface PostgresServer {
  /** `postgres://postgres@127.0.0.1:<port>/postgres` (trust auth, no password). */
  url: string;
  port: number;
  /** The cluster's data directory (PGDATA): `<temp dir>/data`; the temp dir also holds `log` and the socket. */
  dataDir: string;
  /**
   * `pg_ctl stop -m immediate`: every backend is killed at once and open connections drop, as in a crash; the data
   * directory stays, for `restart`.
   */
  stopImmediately(): Promise<void>;
  /** Starts the stopped server again, on the same port (crash recovery replays the WAL first). */
  restart(): Promise<void>;
  /** `pg_ctl stop -m fast` (unless stopped already), then removes the whole temp dir. Safe to call more than once. */
  stop(): Promise<void>;
}

interface PgBinaries {
  initdb: string;
  pgCtl: string;
  postgres: string;
}

/** How a binary is run: directly, or as the `postgres` OS user when we are root. */
interface Runner {
  asPostgresUser: boolean;
  runuser?: string;
}

const PG_LIB_DIR = '/usr/lib/postgresql';
const PORT_ATTEMPTS = 5;
const EXEC_TIMEOUT_MS = 120_000;

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function findOnPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir && isExecutable(path.join(dir, name))) {
      return path.join(dir, name);
    }
  }
  return undefined;
}

function compareVersionsDesc(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const diff = (pb[i] ?? 0) - (pa[i] ?? 0);
    if (diff !== 0) {
      return diff;
    }
  }
  return 0;
}

function findPgBinaries(): PgBinaries {
  let versions: string[] = [];
  try {
    versions = fs.readdirSync(PG_LIB_DIR).filter((v) => /^\d+(\.\d+)*$/.test(v));
  } catch {
    // no Debian layout; fall back to PATH
  }
  for (const version of versions.sort(compareVersionsDesc)) {
    const bin = path.join(PG_LIB_DIR, version, 'bin');
    const candidate = {
      initdb: path.join(bin, 'initdb'),
      pgCtl: path.join(bin, 'pg_ctl'),
      postgres: path.join(bin, 'postgres'),
    };
    if (Object.values(candidate).every(isExecutable)) {
      return candidate;
    }
  }
  const initdb = findOnPath('initdb');
  const pgCtl = findOnPath('pg_ctl');
  const postgres = findOnPath('postgres');
  if (initdb && pgCtl && postgres) {
    return { initdb, pgCtl, postgres };
  }
  throw new Error(
    `PostgreSQL binaries (initdb, pg_ctl, postgres) not found in ${PG_LIB_DIR}/*/bin or on PATH. ` +
      `On Debian: apt-get install --no-install-recommends postgresql`,
  );
}

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

async function postgresUserIds(): Promise<{ uid: number; gid: number }> {
  try {
    const uid = Number((await execFile('id', ['-u', 'postgres'])).stdout.trim());
    const gid = Number((await execFile('id', ['-g', 'postgres'])).stdout.trim());
    if (!Number.isInteger(uid) || !Number.isInteger(gid)) {
      throw new Error('unparsable output of id');
    }
    return { uid, gid };
  } catch (err) {
    throw new Error(
      `Running as root, but the 'postgres' OS user is unavailable (PostgreSQL refuses to run as root): ${errorText(err)}`,
    );
  }
}

/** Every ancestor must be searchable by "other", or the postgres user cannot reach the temp dir. */
function worldTraversable(dir: string): boolean {
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    try {
      if ((fs.statSync(d).mode & 0o001) === 0) {
        return false;
      }
    } catch {
      return false;
    }
    if (path.dirname(d) === d) {
      return true;
    }
  }
}

function errorText(err: unknown): string {
  if (err && typeof err === 'object') {
    const e = err as { message?: string; stdout?: string; stderr?: string };
    const parts = [e.message?.trim(), e.stdout?.trim(), e.stderr?.trim()].filter((p): p is string => !!p);
    // execFile's message already embeds stderr; do not repeat it
    return parts.filter((p, i) => i === 0 || !parts[0].includes(p)).join('\n');
  }
  return String(err);
}

function logTail(logFile: string, fromByte = 0, lines = 40): string {
  try {
    const text = fs.readFileSync(logFile).subarray(fromByte).toString('utf8');
    return text.trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

function fileSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

function command(runner: Runner, bin: string, args: string[]): [string, string[]] {
  return runner.asPostgresUser ? [runner.runuser!, ['-u', 'postgres', '--', bin, ...args]] : [bin, args];
}

function childEnv(): NodeJS.ProcessEnv {
  // Drop PG* variables (PGDATA, PGPORT, PGHOST, ...) so they cannot redirect the tools; force the C locale so a
  // missing/unsupported LANG on a fresh machine cannot break initdb and server messages stay in English.
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('PG')) {
      env[key] = value;
    }
  }
  env.LC_ALL = 'C';
  env.LANG = 'C';
  return env;
}

async function run(runner: Runner, cwd: string, bin: string, args: string[]): Promise<void> {
  const [file, argv] = command(runner, bin, args);
  await execFile(file, argv, { cwd, env: childEnv(), timeout: EXEC_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 });
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error('could not determine a free port'))));
    });
  });
}

function quoteForPgCtl(value: string): string {
  // pg_ctl hands the -o string to a shell; single-quote anything path-like.
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

export interface PostgresServerOptions {
  /**
   * Commits are written to the WAL before they are acknowledged (`synchronous_commit=on`), so a crash of the server
   * (`stopImmediately`) loses no acknowledged commit. Off by default, for speed: then the last ~200 ms of commits die
   * with the server. fsync stays off either way: the machine outlives the server.
   */
  crashSafe?: boolean;
}

export async function startPostgresServer(options: PostgresServerOptions = {}): Promise<PostgresServer> {
  const bins = findPgBinaries();
  const root = isRoot();
  const runner: Runner = { asPostgresUser: root };
  if (root) {
    runner.runuser = findOnPath('runuser') ?? ['/usr/sbin/runuser', '/sbin/runuser'].find(isExecutable);
    if (!runner.runuser) {
      throw new Error('Running as root, but runuser (util-linux) was not found');
    }
  }
  const ids = root ? await postgresUserIds() : undefined;

  const base = root && !worldTraversable(os.tmpdir()) ? '/tmp' : os.tmpdir();
  const dir = await fs.promises.mkdtemp(path.join(base, 'pgtest-'));
  const dataDir = path.join(dir, 'data');
  const logFile = path.join(dir, 'log');

  let started = false;
  const emergencyStop = (): void => {
    // Last resort if the process exits without stop(): do not leave a postmaster behind.
    try {
      if (started) {
        const [file, argv] = command(runner, bins.pgCtl, ['-D', dataDir, 'stop', '-m', 'immediate', '-w']);
        execFileSync(file, argv, { cwd: dir, env: childEnv(), stdio: 'ignore', timeout: 10_000 });
      }
    } catch {
      // ignore
    }
    try {
      fs.rmSync(dir, { recursive: true, force: true });
    } catch {
      // ignore
    }
  };
  process.once('exit', emergencyStop);

  const cleanup = async (): Promise<void> => {
    process.removeListener('exit', emergencyStop);
    if (started) {
      started = false;
      await run(runner, dir, bins.pgCtl, ['-D', dataDir, 'stop', '-m', 'immediate', '-w']).catch(() => undefined);
    }
    await fs.promises.rm(dir, { recursive: true, force: true });
  };

  try {
    if (ids) {
      await fs.promises.chown(dir, ids.uid, ids.gid);
    }

    try {
      await run(runner, dir, bins.initdb, [
        '-D',
        dataDir,
        '--auth=trust',
        '--username=postgres',
        '--encoding=UTF8',
        // A UTF-8 ctype, as on Supabase: lower() and upper() then know letters beyond ASCII (q=ÄRGER finds Ärger).
        '--locale=C.UTF-8',
        '--no-sync',
      ]);
    } catch (err) {
      throw new Error(`initdb failed (${bins.initdb}):\n${errorText(err)}`);
    }

    /** `pg_ctl start` on `port`; whether it failed because the port is taken (the log says so). */
    const startOn = async (port: number): Promise<{ portTaken: boolean; failure?: Error }> => {
      const logOffset = fileSize(logFile);
      const serverOptions = [
        '-c listen_addresses=127.0.0.1',
        `-p ${port}`,
        `-k ${quoteForPgCtl(dir)}`,
        '-c fsync=off',
        `-c synchronous_commit=${options.crashSafe ? 'on' : 'off'}`,
        '-c full_page_writes=off',
        '-c max_connections=200',
      ].join(' ');
      try {
        started = true; // pg_ctl may leave a postmaster running even when it reports failure
        await run(runner, dir, bins.pgCtl, ['-D', dataDir, '-w', '-l', logFile, 'start', '-o', serverOptions]);
        return { portTaken: false };
      } catch (err) {
        const tail = logTail(logFile, logOffset);
        // make sure nothing is half-running
        await run(runner, dir, bins.pgCtl, ['-D', dataDir, 'stop', '-m', 'immediate', '-w']).catch(() => undefined);
        started = false;
        return {
          portTaken: /could not (bind|create listen socket)|address already in use/i.test(tail),
          failure: new Error(
            `pg_ctl start failed on port ${port}:\n${errorText(err)}\n--- postgres log tail ---\n${tail}`,
          ),
        };
      }
    };

    let port = 0;
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      const { portTaken, failure } = await startOn(port);
      if (!failure) {
        break;
      }
      // a port grabbed by someone else between freePort() and bind() is worth another try
      if (!portTaken || attempt >= PORT_ATTEMPTS) {
        throw failure;
      }
    }

    const stopImmediately = async (): Promise<void> => {
      await run(runner, dir, bins.pgCtl, ['-D', dataDir, '-w', 'stop', '-m', 'immediate']);
      started = false;
    };

    const restart = async (): Promise<void> => {
      const { failure } = await startOn(port);
      if (failure) {
        throw failure;
      }
    };

    let stopping: Promise<void> | undefined;
    const stop = (): Promise<void> => {
      stopping ??= (async () => {
        process.removeListener('exit', emergencyStop);
        let failure: Error | undefined;
        try {
          if (started) {
            await run(runner, dir, bins.pgCtl, ['-D', dataDir, '-w', 'stop', '-m', 'fast']);
            started = false;
          }
        } catch (err) {
          failure = new Error(`pg_ctl stop failed:\n${errorText(err)}\n--- postgres log tail ---\n${logTail(logFile)}`);
          await run(runner, dir, bins.pgCtl, ['-D', dataDir, 'stop', '-m', 'immediate', '-w']).catch(() => undefined);
        }
        await fs.promises.rm(dir, { recursive: true, force: true });
        if (failure) {
          throw failure;
        }
      })();
      return stopping;
    };

    return { url: `postgres://postgres@127.0.0.1:${port}/postgres`, port, dataDir, stopImmediately, restart, stop };
  } catch (err) {
    await cleanup().catch(() => undefined);
    throw err;
  }
}

/** Creates a fresh database (default name `t_<random hex>`) on the server behind adminUrl and returns its URL. */
export async function createDatabase(adminUrl: string, name?: string): Promise<string> {
  const dbName = name ?? `t_${randomBytes(8).toString('hex')}`;
  const client = new Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE "${dbName.replace(/"/g, '""')}"`);
  } finally {
    await client.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${encodeURIComponent(dbName)}`;
  return url.toString();
}
