/**
 * Starts and stops a real, throwaway Redis server for tests: Debian's `redis-server` (`.ci/run` installs it) on a
 * free loopback port, without persistence, in its own temp dir. It can go down and come back on the same port, for
 * tests of a Redis outage.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import Redis from 'ioredis';

export interface RedisServer {
  /** `redis://127.0.0.1:<port>`, the same across restarts. */
  readonly url: string;
  readonly port: number;
  /** True while the server process runs. */
  readonly running: boolean;
  /** Starts it again on the same port (after `kill()`); resolves once it answers PING. Nothing if it runs. */
  start(): Promise<void>;
  /** SIGKILL, as in an outage; resolves once the process is gone. It stays down until `start()`. */
  kill(): Promise<void>;
  /** Stops it (SIGTERM, or SIGKILL for an outage) and starts it again on the same port, empty (nothing is saved). */
  restart(signal?: 'SIGTERM' | 'SIGKILL'): Promise<void>;
  /** SIGTERM, then removes its temp dir. Safe to call more than once; it cannot start again afterwards. */
  stop(): Promise<void>;
}

const PORT_ATTEMPTS = 5;
const READY_TIMEOUT_MS = 10_000;
const PING_INTERVAL_MS = 20;
/** Lines of the server's own log kept for error messages. */
const LOG_LINES = 40;

/** One run of the server process. */
interface Run {
  child: ChildProcess;
  /** Resolves once the process has exited (or failed to spawn). */
  exited: Promise<void>;
  readonly done: boolean;
  log: string[];
}

class PortTakenError extends Error {}

function findRedisServer(): string {
  const candidates = [
    '/usr/bin/redis-server',
    ...(process.env.PATH ?? '').split(path.delimiter).map((dir) => path.join(dir, 'redis-server')),
  ];
  for (const file of candidates) {
    try {
      fs.accessSync(file, fs.constants.X_OK);
      return file;
    } catch {
      // try the next one
    }
  }
  throw new Error(
    'redis-server not found in /usr/bin or on PATH. On Debian: apt-get install --no-install-recommends redis-server',
  );
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

function launch(bin: string, port: number, dir: string): Run {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  const child = spawn(bin, [...args, '--dir', dir, '--daemonize', 'no', '--logfile', ''], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log: string[] = [];
  const keep = (chunk: Buffer): void => {
    log.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    log.splice(0, Math.max(0, log.length - LOG_LINES));
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let done = false;
  const exited = new Promise<void>((resolve) => {
    const finish = (): void => {
      done = true;
      resolve();
    };
    child.once('exit', finish);
    child.once('error', (error) => {
      log.push(`spawn failed: ${error.message}`);
      finish();
    });
  });
  return {
    child,
    exited,
    log,
    get done() {
      return done;
    },
  };
}

/** True when the server on `port` answers PING (a fresh connection that gives up at the first failure). */
async function answersPing(port: number): Promise<boolean> {
  const client = new Redis({
    host: '127.0.0.1',
    port,
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 1000,
    // disconnect() waits this long for a stream that has already closed (a refused connection) before it gives up
    disconnectTimeout: 0,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

/** Resolves once the run answers PING; throws (with its log) if it exits first or does not answer in time. */
async function untilReady(run: Run, port: number): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (run.done) {
      const text = run.log.join('\n');
      const failure = `redis-server exited before answering on port ${port}:\n${text}`;
      throw /address already in use/i.test(text) ? new PortTakenError(failure) : new Error(failure);
    }
    if (await answersPing(port)) {
      return;
    }
    if (Date.now() > deadline) {
      run.child.kill('SIGKILL');
      await run.exited;
      throw new Error(
        `redis-server did not answer PING on port ${port} within ${READY_TIMEOUT_MS} ms:\n${run.log.join('\n')}`,
      );
    }
    await Promise.race([new Promise((resolve) => setTimeout(resolve, PING_INTERVAL_MS)), run.exited]);
  }
}

async function end(run: Run | undefined, signal: NodeJS.Signals): Promise<void> {
  if (run && !run.done) {
    run.child.kill(signal);
    await run.exited;
  }
}

/** Starts a throwaway Redis server on a free loopback port; resolves once it answers PING. */
export async function startRedisServer(): Promise<RedisServer> {
  const bin = findRedisServer();
  const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'redistest-'));
  let current: Run | undefined;
  let stopped = false;

  const emergencyStop = (): void => {
    // Last resort if the process exits without stop(): do not leave a server behind.
    if (current && !current.done) {
      current.child.kill('SIGKILL');
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', emergencyStop);

  let port = 0;
  try {
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      current = launch(bin, port, dir);
      try {
        await untilReady(current, port);
        break;
      } catch (error) {
        // The port was taken between freePort() and redis's bind: another port.
        if (!(error instanceof PortTakenError) || attempt >= PORT_ATTEMPTS) {
          throw error;
        }
      }
    }
  } catch (error) {
    await end(current, 'SIGKILL');
    process.removeListener('exit', emergencyStop);
    await fs.promises.rm(dir, { recursive: true, force: true });
    throw error;
  }

  const start = async (): Promise<void> => {
    if (stopped) {
      throw new Error('this Redis server was stopped; start a new one');
    }
    if (current && !current.done) {
      return;
    }
    const run = launch(bin, port, dir);
    current = run;
    await untilReady(run, port);
  };
  const kill = (): Promise<void> => end(current, 'SIGKILL');

  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    get running() {
      return current !== undefined && !current.done;
    },
    start,
    kill,
    async restart(signal = 'SIGTERM') {
      await end(current, signal);
      await start();
    },
    async stop() {
      stopped = true;
      process.removeListener('exit', emergencyStop);
      await end(current, 'SIGTERM');
      await fs.promises.rm(dir, { recursive: true, force: true });
    },
  };
}
