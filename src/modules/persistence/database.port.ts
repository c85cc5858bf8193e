import type { DatabaseDriverName } from '../../config/app-config';

/** Who a database call runs as: a signed-in user (RLS applies, auth.uid() = id) or the service itself. */
export type Actor =
  | {
      kind: 'user';
      id: string;
      claims?: Record<string, unknown>;
      /** The caller's own access token: the Supabase driver sends it, so PostgREST applies RLS as them. */
      accessToken?: string;
    }
  | { kind: 'service' };

export type UserActor = Extract<Actor, { kind: 'user' }>;

export const SERVICE_ACTOR: Actor = { kind: 'service' };

export function userActor(id: string, claims?: Record<string, unknown>, accessToken?: string): UserActor {
  return { kind: 'user', id, claims, accessToken };
}

/** Told of every call: which function, how long it took, whether it failed. */
export type CallObserver = (fn: string, durationMs: number, outcome: 'ok' | 'error') => void;

/** Told of every group commit: which function, how many calls it held. */
export type GroupObserver = (fn: GroupableFunction, size: number) => void;

/** Told of every wait for a pooled connection: how long it took. */
export type AcquireObserver = (durationMs: number) => void;

/** A connection pool now: its size limit, connections open and idle, calls waiting for one. */
export interface PoolState {
  max: number;
  total: number;
  idle: number;
  waiting: number;
}

/** The functions a driver may group-commit (`callGrouped`). */
export type GroupableFunction = 'post_message';

/** The port: run one of the SQL functions of `migrations/` with named arguments, as an actor. */
export interface Database {
  readonly driver: DatabaseDriverName;
  call<Row = Record<string, unknown>>(actor: Actor, fn: string, args?: Record<string, unknown>): Promise<Row[]>;
  /**
   * Like `call`, but the driver may commit it in one transaction with concurrent calls of the same function
   * (group commit): each still runs as its own actor under RLS, behind its own savepoint, so it succeeds or
   * fails alone, and it resolves only after the commit that holds it.
   */
  callGrouped<Row = Record<string, unknown>>(
    actor: UserActor,
    fn: GroupableFunction,
    args: Record<string, unknown>,
  ): Promise<Row[]>;
  /** Resolves when the database answers within the time, rejects otherwise. */
  ping(timeoutMs: number): Promise<void>;
  /** Registers the observer of every call (metrics), of every group commit, and of every wait for a connection. */
  observe(observer: CallObserver, groups?: GroupObserver, acquire?: AcquireObserver): void;
  /**
   * The driver's connection pool, for drivers that hold one (not Supabase's HTTP calls). The embedded engine serves
   * one session: its pool has one connection, and `waiting` is the engine's queue.
   */
  poolState?(): PoolState;
  close(): Promise<void>;
}

export const DATABASE = Symbol('DATABASE');

/** The claims a call carries into the database, shaped like a Supabase access token's. */
export function claimsOf(actor: Actor): Record<string, unknown> {
  return actor.kind === 'service'
    ? { role: 'service_role' }
    : { ...actor.claims, sub: actor.id, role: 'authenticated' };
}

const SQL_IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

/** Function and argument names go into SQL or URLs as they are: only plain lower-case identifiers pass. */
export function assertIdentifiers(fn: string, args: Record<string, unknown>): void {
  for (const name of [fn, ...Object.keys(args)]) {
    if (!SQL_IDENTIFIER.test(name)) {
      throw new Error(`Invalid SQL identifier: ${name}`);
    }
  }
}
