/**
 * The first connection to a Postgres server at start. On Kubernetes a pod often starts before its database: a server
 * that is not reachable yet is waited for (exponential backoff with a cap, bounded by DATABASE_CONNECT_TIMEOUT_MS);
 * one that answers and refuses (a wrong password, no such database) stops the start at once. Either way the start
 * ends with one line naming DATABASE_URL and what to do, and never the URL's password.
 */
import {
  ExponentialBackoff,
  handleWhen,
  retry,
  TaskCancelledError,
  timeout,
  TimeoutStrategy,
  wrap,
  type FailureReason,
} from 'cockatiel';
import type { AppConfig } from '../../config/app-config';
import { StartupError } from '../../config/startup-error';
import type { GroupCommitOptions } from './drivers/group-commit';
import { PgDatabase } from './drivers/pg.database';

/** Errors of a server that is not there yet: down, starting up, unreachable, its name not yet in DNS. */
const NOT_YET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  '57P03', // cannot_connect_now: the database system is starting up
  '53300', // too_many_connections
  '57014', // our own time bound on the attempt (CallTimeoutError)
]);
/** pg's errors of a connection that closed or did not open in time, which carry no code. */
const NOT_YET_MESSAGE = /Connection terminated|timeout exceeded when trying to connect|connection timeout/i;

export interface ConnectRetry {
  /** The attempt that failed, from 1. */
  attempt: number;
  delayMs: number;
  /** Why it failed: an error code, or `timeout` / `connection closed`. */
  reason: string;
}

export interface WaitForDatabaseOptions {
  /** The whole wait, from the first attempt: past it the start gives up. */
  timeoutMs: number;
  onRetry(retry: ConnectRetry): void;
  /** The bound on one attempt. */
  attemptTimeoutMs?: number;
  initialDelayMs?: number;
  maxDelayMs?: number;
}

/**
 * A driver on DATABASE_URL once its server answers (`waitForDatabase`, each retry told to `onRetry`), with the call
 * bound of the configuration; closed again should the server never answer. The server and `npm run migrate` both
 * open it so.
 */
export async function connectPostgres(
  database: AppConfig['database'],
  pool: { max: number; groupCommit?: GroupCommitOptions },
  onRetry: (retry: ConnectRetry) => void,
): Promise<PgDatabase> {
  const url = database.url ?? '';
  const db = new PgDatabase(
    'postgres',
    { connectionString: url, max: pool.max, connectionTimeoutMillis: 5000 },
    undefined,
    pool.groupCommit,
    database.callTimeoutMs,
  );
  try {
    await waitForDatabase(url, (timeoutMs) => db.ping(timeoutMs), { timeoutMs: database.connectTimeoutMs, onRetry });
  } catch (error) {
    await db.close();
    throw error;
  }
  return db;
}

/**
 * Resolves once `ping` succeeds (it is given the time one attempt may take). Throws a StartupError naming
 * DATABASE_URL: at once for a refusal, or after `timeoutMs` of failures that a server coming up would cause.
 */
export async function waitForDatabase(
  url: string,
  ping: (timeoutMs: number) => Promise<void>,
  options: WaitForDatabaseOptions,
): Promise<void> {
  const { timeoutMs, attemptTimeoutMs = 5_000, initialDelayMs = 250, maxDelayMs = 5_000 } = options;
  const retryPolicy = retry(handleWhen(isNotYetReachable), {
    maxAttempts: Infinity,
    backoff: new ExponentialBackoff({ initialDelay: initialDelayMs, maxDelay: maxDelayMs }),
  });
  const listener = retryPolicy.onRetry((event: FailureReason<unknown> & { attempt: number; delay: number }) => {
    options.onRetry({
      attempt: event.attempt,
      delayMs: Math.round(event.delay),
      reason: 'error' in event ? reasonOf(event.error) : 'unknown',
    });
  });
  const started = performance.now();
  let attempts = 0;
  let lastError: unknown;
  try {
    await wrap(timeout(timeoutMs, TimeoutStrategy.Aggressive), retryPolicy).execute(async ({ signal }) => {
      if (signal.aborted) {
        throw new TaskCancelledError();
      }
      attempts++;
      try {
        await ping(Math.max(1, Math.min(attemptTimeoutMs, started + timeoutMs - performance.now())));
      } catch (error) {
        lastError = error;
        throw error;
      }
    });
  } catch (error) {
    const target = targetOf(url);
    if (error instanceof TaskCancelledError) {
      const seconds = Math.round((performance.now() - started) / 1000);
      throw new StartupError(
        `DATABASE_URL: cannot reach the database at ${target} (${reasonOf(lastError)}) after ${attempts} ` +
          `attempt${attempts === 1 ? '' : 's'} over ${seconds} s; check it is up and reachable`,
      );
    }
    throw new StartupError(withoutPassword(refusalOf(error, target), url));
  } finally {
    listener.dispose();
  }
}

function isNotYetReachable(error: unknown): boolean {
  const code = codeOf(error);
  return (code !== undefined && NOT_YET_CODES.has(code)) || NOT_YET_MESSAGE.test(messageOf(error));
}

/** One line for a server that answered and refused, with what to change. */
function refusalOf(error: unknown, target: string): string {
  const code = codeOf(error);
  const detail = `${code ? `${code}: ` : ''}${messageOf(error).replace(/\s+/g, ' ').trim()}`;
  const advice =
    code === '28P01' || code === '28000'
      ? 'check the user and password in DATABASE_URL'
      : code === '3D000'
        ? 'create the database or fix its name in DATABASE_URL'
        : 'check DATABASE_URL';
  return `DATABASE_URL: the database at ${target} refused the connection (${detail}); ${advice}`;
}

function reasonOf(error: unknown): string {
  const code = codeOf(error);
  if (code === '57014' || /timeout/i.test(messageOf(error))) {
    return 'timeout';
  }
  return code ?? (NOT_YET_MESSAGE.test(messageOf(error)) ? 'connection closed' : 'unknown');
}

/** `host:port` of the URL: what an operator checks, and nothing of its credentials. */
export function targetOf(url: string): string {
  try {
    const parsed = new URL(url);
    const host = parsed.hostname || parsed.searchParams.get('host') || 'localhost';
    return `${host}:${parsed.port || '5432'}`;
  } catch {
    return 'DATABASE_URL';
  }
}

/** A server's message never holds the password, but a client library's might: it never reaches the line. */
function withoutPassword(line: string, url: string): string {
  let password = '';
  try {
    password = decodeURIComponent(new URL(url).password);
  } catch {
    // no password to hide
  }
  return password ? line.split(password).join('***') : line;
}

function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string') {
    return code;
  }
  // Several addresses of one name tried in turn (happy eyeballs) fail as one AggregateError.
  return error instanceof AggregateError ? codeOf(error.errors[0]) : undefined;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
