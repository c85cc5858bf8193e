/**
 * Runs the app as several instances (separate `node dist/main.js` processes, see server-process.ts) that share one
 * PostgreSQL database and one Redis server, the way it runs behind a load balancer.
 */
import { randomBytes } from 'node:crypto';
import { createDatabase } from './postgres-server';
import { startRedisServer, type RedisServer } from './redis-server';
import { startServerProcess, type ServerProcess } from './server-process';

/** Limits high enough that suites never trip them unless a test lowers one on purpose. */
export const HIGH_RATE_LIMITS: Readonly<Record<string, string>> = {
  RATE_HTTP_PER_MINUTE: '100000',
  RATE_AUTH_PER_MINUTE: '100000',
  RATE_SEND_PER_10S: '100000',
  RATE_TYPING_PER_10S: '100000',
  RATE_AI_PER_MINUTE: '100000',
  RATE_EVENTS_PER_10S: '1000000',
  RATE_SOCKET_EVENTS_PER_10S: '1000000',
  MAX_SOCKETS_PER_USER: '100000',
  RATE_HANDSHAKES_PER_MINUTE: '1000000',
  FLOOD_DISCONNECT_AFTER: '1000000',
};

/** Short cluster timings: a gone instance or a lost AI lease is noticed within a second or two, not a minute. */
const CLUSTER_TIMINGS: Readonly<Record<string, string>> = {
  CLUSTER_HEARTBEAT_MS: '200',
  CLUSTER_INSTANCE_TTL_MS: '1500',
  ORDER_WAIT_MS: '100',
  AI_LEASE_MS: '1500',
  AI_POLL_MS: '200',
  // A stop lets replies in flight finish for most of SHUTDOWN_TIMEOUT_MS (the drain): within STOP_GRACE_MS here.
  SHUTDOWN_TIMEOUT_MS: '3000',
};

/** How long `close()` lets an instance shut down gracefully before it kills it. */
const STOP_GRACE_MS = 5000;

/** One running instance of the app. */
export interface Instance {
  /** http://127.0.0.1:<port> */
  readonly url: string;
  /** Its process: log lines (JSON, LOG_LEVEL info by default), stderr, the child. */
  readonly process: ServerProcess;
  /** SIGKILL, as in a crash; resolves once the process is gone. */
  kill(): Promise<void>;
  /** SIGTERM (a graceful stop); resolves with how the process exited. */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface ClusterOptions {
  /** How many instances to start (2 by default). */
  instances?: number;
  /** Added to (and overriding) the environment every instance gets. */
  env?: Record<string, string>;
  /** A Redis server to share; without it the cluster starts one and stops it on `close()`. */
  redis?: RedisServer;
}

export interface Cluster {
  /** Every instance started, in order, including any a test killed or stopped. */
  readonly instances: Instance[];
  /** The instances' URLs, in the same order. */
  readonly urls: string[];
  /** The fresh database the instances share (migrated by the first instance at its start). */
  readonly databaseUrl: string;
  readonly redis: RedisServer;
  /** The environment every instance got; `loadConfig(env)` gives the config they run with. */
  readonly env: Readonly<Record<string, string>>;
  /** Starts one more instance with the cluster's environment (plus `env`). */
  addInstance(env?: Record<string, string>): Promise<Instance>;
  /**
   * Stops every instance still running (SIGTERM, SIGKILL after a grace period) and the Redis server the cluster
   * started. Throws, after stopping everything, if an instance did not exit cleanly on SIGTERM or had exited by
   * itself (instances the test killed or stopped are fine).
   */
  close(): Promise<void>;
}

function alive(server: ServerProcess): boolean {
  return server.child.exitCode === null && server.child.signalCode === null;
}

/** SIGTERM; SIGKILL if the process is still there after STOP_GRACE_MS. Resolves with how it exited. */
async function stopGracefully(server: ServerProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  const timer = setTimeout(() => void server.stop('SIGKILL'), STOP_GRACE_MS);
  try {
    return await server.stop('SIGTERM');
  } finally {
    clearTimeout(timer);
  }
}

/** An instance; `ended` records that the test itself stopped or killed it. */
function toInstance(server: ServerProcess, ended: Set<Instance>): Instance {
  const instance: Instance = {
    url: server.url,
    process: server,
    async kill() {
      ended.add(instance);
      await server.stop('SIGKILL');
    },
    stop: () => {
      ended.add(instance);
      return server.stop('SIGTERM');
    },
  };
  return instance;
}

/** What an instance left behind: the end of its stderr and its last error log lines. */
function lastWords(server: ServerProcess): string {
  const errors = server.lines.filter((line) => typeof line.level === 'number' && line.level >= 50).slice(-5);
  return [...server.stderr.slice(-20), ...errors.map((line) => JSON.stringify(line))].join('\n');
}

/**
 * Starts `instances` app processes on one fresh database of the test PostgreSQL server (`TEST_PG_URL`, set by the
 * jest globalSetup) and one Redis server, with a shared random `LOCAL_JWT_SECRET` so that a token from one instance
 * is good on every other. The first instance starts alone (it runs the migrations), the others then in parallel.
 * LOG_LEVEL is `info` unless `env` says otherwise (below `info` no instance reports its port, and the start hangs).
 */
export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const adminUrl = process.env.TEST_PG_URL;
  if (!options.env?.DATABASE_URL && !adminUrl) {
    throw new Error('TEST_PG_URL is not set: run under jest (its globalSetup starts a PostgreSQL server)');
  }
  const databaseUrl = options.env?.DATABASE_URL ?? (await createDatabase(adminUrl ?? ''));
  const ownRedis = options.redis ? undefined : await startRedisServer();
  const redis = options.redis ?? ownRedis!;
  const env: Record<string, string> = {
    NODE_ENV: 'test',
    LOG_LEVEL: 'info',
    ...HIGH_RATE_LIMITS,
    ...CLUSTER_TIMINGS,
    DATABASE_URL: databaseUrl,
    REDIS_URL: redis.url,
    LOCAL_JWT_SECRET: randomBytes(32).toString('hex'),
    ...options.env,
  };

  const instances: Instance[] = [];
  const ended = new Set<Instance>();
  // Last resort if the test process exits without close(): leave no server behind.
  const emergencyStop = (): void => {
    for (const instance of instances) {
      if (alive(instance.process)) {
        instance.process.child.kill('SIGKILL');
      }
    }
  };
  process.once('exit', emergencyStop);

  const addInstance = async (extra: Record<string, string> = {}): Promise<Instance> => {
    const instance = toInstance(await startServerProcess({ ...env, ...extra }), ended);
    instances.push(instance);
    return instance;
  };

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      // Instances that died without the test asking (a crash) are reported too, not only unclean stops.
      const crashed = instances.filter((instance) => !alive(instance.process) && !ended.has(instance));
      const running = instances.filter((instance) => alive(instance.process));
      const exits = await Promise.all(running.map((instance) => stopGracefully(instance.process)));
      process.removeListener('exit', emergencyStop);
      await ownRedis?.stop();
      const problems = [
        ...crashed.map((instance) => {
          const { exitCode, signalCode } = instance.process.child;
          return `${instance.url} exited by itself (code ${exitCode}, signal ${signalCode}):\n${lastWords(instance.process)}`;
        }),
        ...running.flatMap((instance, i) =>
          exits[i].code === 0
            ? []
            : [
                `${instance.url} did not stop cleanly on SIGTERM: ${JSON.stringify(exits[i])}:\n${lastWords(instance.process)}`,
              ],
        ),
      ];
      if (problems.length > 0) {
        throw new Error(`cluster instances:\n${problems.join('\n')}`);
      }
    })();
    return closing;
  };

  try {
    const count = options.instances ?? 2;
    if (count > 0) {
      await addInstance();
    }
    // allSettled: when one fails, the others have finished starting (and are in `instances`) before close() runs.
    const rest = await Promise.allSettled(Array.from({ length: Math.max(0, count - 1) }, () => addInstance()));
    const failed = rest.find((result) => result.status === 'rejected');
    if (failed) {
      throw failed.reason;
    }
  } catch (error) {
    await close().catch(() => undefined);
    throw error;
  }

  return {
    instances,
    get urls() {
      return instances.map((instance) => instance.url);
    },
    databaseUrl,
    redis,
    env,
    addInstance,
    close,
  };
}
