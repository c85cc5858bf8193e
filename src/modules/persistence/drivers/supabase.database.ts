import { createClient } from '@supabase/supabase-js';
import WebSocket from 'ws';
import { AppException } from '../../../common/errors/app.exception';
import { withIsoTimestamps } from '../../../common/messages/timestamp';
import { ErrorCode } from '../../../common/errors/error-code';
import { DEFAULT_DATABASE_CALL_TIMEOUT_MS } from '../../../config/config.schema';
import { mapDatabaseError } from '../database-error';
import {
  assertIdentifiers,
  type Actor,
  type CallObserver,
  type Database,
  type GroupableFunction,
  type UserActor,
} from '../database.port';

export interface SupabaseSettings {
  url: string;
  anonKey?: string;
  serviceRoleKey: string;
  /** The longest a call may take: a PostgREST that does not answer by then fails the call (UNAVAILABLE). */
  callTimeoutMs?: number;
}

/**
 * Runs the same SQL functions through PostgREST with supabase-js `.rpc()`. A user's call carries that
 * user's own access token, so PostgREST runs it as `authenticated` with their claims and RLS applies;
 * the service's calls (assistant replies, maintenance) carry the service role key, which never leaves
 * the server.
 */
export class SupabaseDatabase implements Database {
  readonly driver = 'supabase' as const;
  private readonly client: ReturnType<typeof createClient>;
  private observer?: CallObserver;

  constructor(private readonly settings: SupabaseSettings) {
    this.client = createClient(settings.url, settings.anonKey ?? settings.serviceRoleKey, {
      auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
      // Node 20 has no global WebSocket; realtime is not used, but the client builds it.
      realtime: { transport: WebSocket as never },
      global: { headers: { 'x-client-info': 'chat-backend' } },
      db: { timeout: settings.callTimeoutMs ?? DEFAULT_DATABASE_CALL_TIMEOUT_MS },
    });
  }

  observe(observer: CallObserver): void {
    this.observer = observer;
  }

  /** PostgREST runs one request per transaction: no group commit here, each call is its own. */
  callGrouped<Row = Record<string, unknown>>(
    actor: UserActor,
    fn: GroupableFunction,
    args: Record<string, unknown>,
  ): Promise<Row[]> {
    return this.call<Row>(actor, fn, args);
  }

  async call<Row = Record<string, unknown>>(
    actor: Actor,
    fn: string,
    args: Record<string, unknown> = {},
  ): Promise<Row[]> {
    assertIdentifiers(fn, args);
    const token = actor.kind === 'service' ? this.settings.serviceRoleKey : actor.accessToken;
    if (!token) {
      // A user call without the user's token would run as anon: refuse rather than guess.
      throw new AppException(ErrorCode.UNAUTHENTICATED, 'Sign in first');
    }
    const started = performance.now();
    const params = Object.fromEntries(Object.entries(args).map(([key, value]) => [key, value ?? null]));
    // The functions are called by name at run time; supabase-js's generated-types overloads do not apply.
    const rpc = this.client.rpc.bind(this.client) as unknown as (
      name: string,
      args: Record<string, unknown>,
    ) => { setHeader(name: string, value: string): PromiseLike<unknown> };
    const { data, error } = (await rpc(fn, params).setHeader('Authorization', `Bearer ${token}`)) as {
      data: unknown;
      error: { code?: string; message?: string } | null;
    };
    if (error) {
      this.observer?.(fn, performance.now() - started, 'error');
      throw mapSupabaseError(error);
    }
    this.observer?.(fn, performance.now() - started, 'ok');
    if (data === null || data === undefined) {
      return [];
    }
    return (Array.isArray(data) ? data : [data]).map(withIsoTimestamps) as Row[];
  }

  async ping(timeoutMs: number): Promise<void> {
    const { error } = await this.client
      .rpc('ping')
      .setHeader('Authorization', `Bearer ${this.settings.serviceRoleKey}`)
      .abortSignal(AbortSignal.timeout(timeoutMs));
    if (error) {
      throw new Error(`Supabase did not answer: ${error.message}`);
    }
  }

  /** Nothing to release: calls are plain HTTP, and realtime (whose disconnect holds a 10 s timer) is never used. */
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** PostgREST errors carry the SQLSTATE (or a PGRST code) in `code`. */
function mapSupabaseError(error: { code?: string; message?: string }): unknown {
  if (error.code === 'PGRST202' || error.code === 'PGRST203') {
    // No (or no single) function matches the name and arguments: Postgres's own 42883, a bug upstream.
    const undefinedFunction = { ...error, code: '42883', postgrestCode: error.code };
    return Object.assign(new Error(error.message ?? 'function not found'), { code: '42883', cause: undefinedFunction });
  }
  if (error.code && /^PGRST00/.test(error.code)) {
    // PostgREST cannot reach its database (PGRST000-002, 503) or get a connection in time (PGRST003, 504).
    return unavailable(error);
  }
  if (error.code && /^PGRST3/.test(error.code)) {
    return new AppException(ErrorCode.UNAUTHENTICATED, 'Sign in first', undefined, undefined, { cause: error });
  }
  if (!error.code || error.code === '') {
    // supabase-js reports a network failure, and a request past its time (aborted), without a code.
    return unavailable(error);
  }
  return mapDatabaseError(error) ?? Object.assign(new Error(error.message ?? 'Supabase error'), { cause: error });
}

function unavailable(cause: unknown): AppException {
  return new AppException(ErrorCode.UNAVAILABLE, 'The database is unavailable, try again later', undefined, undefined, {
    cause,
  });
}
