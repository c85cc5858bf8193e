import { escapeLiteral, Pool, types, type PoolClient, type PoolConfig, type QueryResult } from 'pg';
import { isoTimestamp, withIsoTimestamps } from '../../../common/messages/timestamp';
import type { DatabaseDriverName } from '../../../config/app-config';
import { DEFAULT_DATABASE_CALL_TIMEOUT_MS, DEFAULT_DATABASE_GROUP_LANES } from '../../../config/config.schema';
import { mapDatabaseError } from '../database-error';
import {
  assertIdentifiers,
  claimsOf,
  type Actor,
  type AcquireObserver,
  type CallObserver,
  type Database,
  type GroupableFunction,
  type GroupObserver,
  type UserActor,
  type PoolState,
} from '../database.port';
import { GroupCommitter, type GroupCommitOptions, type GroupOutcome } from './group-commit';
import { CallTimeoutError, within } from './pg-connection';

const INT8_OID = 20;
const TIMESTAMPTZ_OID = 1184;

/**
 * int8 (seq, counts) as JavaScript numbers: seq stays far below 2^53. timestamptz as the contract's ISO text,
 * rewritten from Postgres's text without a Date in between (every message row has two).
 */
const int8AsNumber = (value: string): number => Number(value);
const typeParsers = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID
      ? int8AsNumber
      : oid === TIMESTAMPTZ_OID && format !== 'binary'
        ? isoTimestamp
        : (types.getTypeParser(oid, format) as (value: string) => unknown)) as typeof types.getTypeParser,
};

/** Group commit on the embedded engine: its one connection runs one group at a time. */
export const EMBEDDED_GROUP_COMMIT: GroupCommitOptions = { maxSize: 100, maxInFlight: 1 };
/**
 * Group commit on a Postgres server: by default one group at a time (DATABASE_GROUP_LANES raises it: groups at once in
 * lanes that share no room, group-commit.ts), on one of its 10 connections (the rest serve other calls), of at most 50
 * sends. One lane holds an instance to one backend, one core, of the server: on the database alone (durable, 5 busy
 * rooms, 3 interleaved rounds, bench/README.md "Group commit on a server: lanes") two lanes acked 899 and 1,193/s
 * where one acked 776 and 821/s at 900 and 1,200/s offered (p99 45 against 830 ms at 900/s); three did no better, and
 * four fell behind at 900/s in 11 rounds of 17 (down to 246/s: 2.6 backends on the CPU of 2 cores, MultiXact SLRU
 * waits). But the app on the same 2 cores as its server did no better with two (550-625/s against 600/s: the second
 * backend takes the core the app and its load need), and several instances already run a group each: so one, and
 * more where the server has cores to spare. Groups at once that share rooms queue on the rooms' row locks (`seq`: of
 * 4 backends, 2.9 waited on a row lock). Groups of 50 rather than 100 keep the p99 under 50 ms closer to saturation.
 */
export const SERVER_GROUP_COMMIT: GroupCommitOptions = { maxSize: 50, maxInFlight: DEFAULT_DATABASE_GROUP_LANES };

/**
 * Runs the SQL functions over the Postgres wire protocol, the way PostgREST does: one transaction per call
 * that takes the actor's role and claims with SET LOCAL semantics (set_config(..., true)), so nothing of one
 * call's identity outlives it — which the embedded server, one backend session for all, depends on.
 */
export class PgDatabase implements Database {
  private readonly pool: Pool;
  /** One committer per groupable function, made on its first call. */
  private readonly committers = new Map<GroupableFunction, GroupCommitter<GroupedCall, Record<string, unknown>>>();
  private observer?: CallObserver;
  private groupObserver?: GroupObserver;
  private acquireObserver?: AcquireObserver;
  private readonly closing: (() => Promise<void>)[] = [];
  private readonly maxConnections: number;

  /** A server cancels a statement past its time itself (statement_timeout); the embedded engine cannot. */
  private readonly serverCancels: boolean;

  /**
   * `callTimeoutMs`: the longest a call may take, the wait for a connection included. A Postgres server cancels the
   * statement at that time (`SET LOCAL statement_timeout`, inside the call's one query, so it works through a
   * transaction pooler too) and the connection stays; should no answer come even `CANCEL_GRACE_MS` later (a dead
   * server, a cut network), the call fails and its connection is dropped. The embedded engine cannot cancel a query
   * (pglite-socket ignores a CancelRequest), so there the call fails at its time and the connection is replaced.
   */
  constructor(
    readonly driver: DatabaseDriverName,
    config: PoolConfig,
    private readonly onClose?: () => Promise<void>,
    readonly groupCommit: GroupCommitOptions = EMBEDDED_GROUP_COMMIT,
    private readonly callTimeoutMs = DEFAULT_DATABASE_CALL_TIMEOUT_MS,
  ) {
    this.serverCancels = driver !== 'pglite';
    this.pool = new Pool({ ...config, types: typeParsers });
    this.maxConnections = config.max ?? 10; // pg's default
    // A connection's error (the server went away) must not crash the process: the pool's own listener covers only an
    // idle one, so each connection gets one of ours for its life; a call on it fails, and the pool drops it on release.
    this.pool.on('error', () => undefined);
    this.pool.on('connect', (client) => client.on('error', () => undefined));
  }

  observe(observer: CallObserver, groups?: GroupObserver, acquire?: AcquireObserver): void {
    this.observer = observer;
    this.groupObserver = groups;
    this.acquireObserver = acquire;
  }

  poolState(): PoolState {
    const { totalCount, idleCount, waitingCount } = this.pool;
    return { max: this.maxConnections, total: totalCount, idle: idleCount, waiting: waitingCount };
  }

  async callGrouped<Row = Record<string, unknown>>(
    actor: UserActor,
    fn: GroupableFunction,
    args: Record<string, unknown>,
  ): Promise<Row[]> {
    assertIdentifiers(fn, args);
    try {
      // Made here, so a value the group's JSON cannot carry fails this call alone, not the group's statement.
      const json = groupItem(actor, args);
      const row = await this.committer(fn).submit({ actor, args, json });
      return [row as Row];
    } catch (error) {
      throw mapDatabaseError(error) ?? error;
    }
  }

  async call<Row = Record<string, unknown>>(
    actor: Actor,
    fn: string,
    args: Record<string, unknown> = {},
  ): Promise<Row[]> {
    assertIdentifiers(fn, args);
    const started = performance.now();
    try {
      const rows = await this.inTransaction<Row>([identitySql(actor), callSql(fn, args)]);
      this.observer?.(fn, performance.now() - started, 'ok');
      return rows;
    } catch (error) {
      this.observer?.(fn, performance.now() - started, 'error');
      throw mapDatabaseError(error) ?? error;
    }
  }

  private committer(fn: GroupableFunction): GroupCommitter<GroupedCall, Record<string, unknown>> {
    let committer = this.committers.get(fn);
    if (!committer) {
      committer = new GroupCommitter(
        (calls) => this.runGroup(fn, calls),
        this.groupCommit,
        (call) => String(call.args.p_room_id),
      );
      this.committers.set(fn, committer);
    }
    return committer;
  }

  /**
   * One group: one transaction of `chat_private.<fn>_group`, which runs every call as its actor in a subtransaction
   * and returns one row per call, in order. Calls are ordered by room, so the groups of several instances on one server
   * take the rooms' row locks in one order and cannot deadlock (one instance's lanes share no room); a room's calls
   * keep theirs. Should the group's statement itself refuse its input (a data exception: none is known, `groupItem`
   * screens for them), each call runs alone, so that whatever it was fails one call only.
   */
  private async runGroup(
    fn: GroupableFunction,
    calls: GroupedCall[],
  ): Promise<GroupOutcome<Record<string, unknown>>[]> {
    const order = calls
      .map((call, index) => ({ call, index }))
      .sort((a, b) => compare(String(a.call.args.p_room_id), String(b.call.args.p_room_id)));
    const items = `[${order.map(({ call }) => call.json).join(',')}]`;
    const started = performance.now();
    let rows: GroupedRow[];
    try {
      // The group's rows as one JSON array, one value to parse (pg builds a parser table per result column, ~30 µs for
      // the group's twenty); its timestamps are JSON's form of the text a column gives, rewritten below as a column's are.
      const [result] = await this.inTransaction<{ rows: GroupedRow[] | null }>([
        `select json_agg(g) as rows from chat_private.${fn}_group(${literal(items)}) g`,
      ]);
      rows = result?.rows ?? [];
    } catch (error) {
      const durationMs = performance.now() - started;
      if (/^22/.test(String((error as { code?: unknown }).code))) {
        return Promise.all(calls.map((call) => this.callAlone(fn, call)));
      }
      calls.forEach(() => this.observer?.(fn, durationMs, 'error'));
      throw error;
    }
    const durationMs = performance.now() - started;
    this.groupObserver?.(fn, calls.length);
    const outcomes = new Array<GroupOutcome<Record<string, unknown>>>(calls.length);
    for (const { item, failed_code, failed_message, ...row } of rows) {
      const index = order[item].index;
      if (failed_code === null) {
        outcomes[index] = { ok: true, value: withIsoTimestamps(row) };
        this.observer?.(fn, durationMs, 'ok');
      } else {
        outcomes[index] = { ok: false, error: Object.assign(new Error(failed_message ?? ''), { code: failed_code }) };
        this.observer?.(fn, durationMs, 'error');
      }
    }
    return outcomes;
  }

  private async callAlone(fn: GroupableFunction, call: GroupedCall): Promise<GroupOutcome<Record<string, unknown>>> {
    try {
      const [row] = await this.call(call.actor, fn, call.args);
      return { ok: true, value: row };
    } catch (error) {
      return { ok: false, error };
    }
  }

  /** Raw SQL as the connecting user, for migrations, maintenance and tests; never for request data. */
  async query<Row = Record<string, unknown>>(sql: string, values: unknown[] = []): Promise<Row[]> {
    const result = await this.pool.query(sql, values);
    return result.rows as Row[];
  }

  /** A connection of the pool for `work`, without a time bound (migrations, tests); one that dropped is not reused. */
  async withClient<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      return await work(client);
    } finally {
      client.release();
    }
  }

  async ping(timeoutMs: number): Promise<void> {
    // Nothing cancels a ping on the server's side, so no grace past its time: a readiness probe answers in time.
    await this.bounded(timeoutMs, 0, () => ['select 1']);
  }

  /** Runs `work` when the database is closed, before its connections go (a driver's own background queries). */
  beforeClose(work: () => Promise<void>): void {
    this.closing.push(work);
  }

  async close(): Promise<void> {
    for (const work of this.closing.splice(0)) {
      await work();
    }
    await this.pool.end();
    await this.onClose?.();
  }

  /**
   * One round trip: the statements between `begin` and `commit` as one simple query (values inlined as escaped
   * literals, see `literal`), with the call's time limit first; the rows of the last one. A failure stops the query at
   * the failing statement, and the rollback is the only second round trip: the connection (the embedded engine's only
   * one) stays usable.
   */
  private async inTransaction<Row>(statements: string[]): Promise<Row[]> {
    // A server that cancels the statement answers at its time with 57014; that answer is given a moment to come.
    const graceMs = this.serverCancels ? CANCEL_GRACE_MS : 0;
    const results = await this.bounded(this.callTimeoutMs, graceMs, (remainingMs) => [
      'begin',
      ...(this.serverCancels ? [`set local statement_timeout = ${remainingMs}`] : []),
      ...statements,
      'commit',
    ]);
    return results[results.length - 2].rows as Row[];
  }

  /**
   * One simple query on a pooled connection within `timeoutMs` from now, the wait for the connection included
   * (`statements` are given the milliseconds left once it is out). A connection that drops while it is out (the server
   * went away) fails the call, not the process, and is not reused; so is one that did not answer in time. After any
   * other failure the transaction is rolled back (a server that just answered is given a moment for that too). An
   * answer is waited for `graceMs` past the time: the time a server takes to report that it cancelled the statement.
   */
  private async bounded(
    timeoutMs: number,
    graceMs: number,
    statements: (remainingMs: number) => string[],
  ): Promise<QueryResult[]> {
    const deadline = performance.now() + timeoutMs;
    const client = await this.checkout(deadline, timeoutMs);
    let broken: Error | undefined;
    const answerBy = deadline + graceMs;
    try {
      const sql = statements(Math.max(1, Math.floor(deadline - performance.now())));
      const results = (await within(client.query(sql.join('; ')), answerBy, timeoutMs)) as unknown as
        QueryResult | QueryResult[];
      return Array.isArray(results) ? results : [results];
    } catch (error) {
      // A connection that did not answer in time may still be running the query: it is not reused.
      broken = error instanceof CallTimeoutError ? error : undefined;
      if (!broken) {
        try {
          // The server just answered: a rollback takes no time, but may have less than none left of the call's.
          await within(client.query('rollback'), Math.max(answerBy, performance.now() + CANCEL_GRACE_MS), timeoutMs);
        } catch (rollbackError) {
          broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
        }
      }
      throw error;
    } finally {
      client.release(broken);
    }
  }

  /** A connection of the pool by `deadline`; one that comes later goes straight back, unused. */
  private async checkout(deadline: number, timeoutMs: number): Promise<PoolClient> {
    const started = performance.now();
    const pending = this.pool.connect();
    try {
      const client = await within(pending, deadline, timeoutMs);
      this.acquireObserver?.(performance.now() - started);
      return client;
    } catch (error) {
      pending.then(
        (client) => client.release(),
        () => undefined,
      );
      throw error;
    }
  }
}

/** Past this much after a call's time, a server that was to cancel it is taken for gone. */
const CANCEL_GRACE_MS = 1000;

interface GroupedCall {
  actor: UserActor;
  args: Record<string, unknown>;
  /** This call's item of the group's JSON: its claims, its id and its arguments. */
  json: string;
}

type GroupedRow = Record<string, unknown> & { item: number; failed_code: string | null; failed_message: string | null };

/**
 * A call's item of a group, as JSON. Postgres refuses, for the whole statement, JSON holding a NUL (`\u0000`) or
 * half a surrogate pair: a NUL anywhere (content, or a claim a user may have set) fails this call alone, as any
 * NUL does (CH400), and a lone surrogate becomes U+FFFD, as the UTF-8 encoding of a single call's text makes it.
 */
function groupItem(actor: UserActor, args: Record<string, unknown>): string {
  return JSON.stringify({ claims: claimsOf(actor), sub: actor.id, args }, (_key, value: unknown) => {
    if (typeof value === 'string') {
      refuseNul(value);
      return (value as string & { toWellFormed(): string }).toWellFormed();
    }
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      Object.keys(value).forEach(refuseNul);
    }
    return value;
  });
}

/** Code-unit order: the same for every group, which is all lock ordering needs (no locale lookups per send). */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function refuseNul(text: string): void {
  if (text.includes('\0')) {
    throw Object.assign(new Error('A value contains a NUL character'), { code: 'CH400' });
  }
}

/** `select set_config(...)` of the actor's role and claims, transaction-local (the third argument, true). */
function identitySql(actor: Actor): string {
  const identity: [string, string][] = [
    ['role', actor.kind === 'service' ? 'service_role' : 'authenticated'],
    ['request.jwt.claims', JSON.stringify(claimsOf(actor))],
    ['request.jwt.claim.sub', actor.kind === 'user' ? actor.id : ''],
  ];
  return `select ${identity.map(([key, value]) => `set_config('${key}', ${literal(value)}, true)`).join(', ')}`;
}

/** `select * from public.fn(name => literal, ...)`: names are checked identifiers, values escaped literals. */
function callSql(fn: string, args: Record<string, unknown>): string {
  const named = Object.entries(args).map(([name, value]) => `${name} => ${literal(value)}`);
  return `select * from public.${fn}(${named.join(', ')})`;
}

/**
 * A value as an SQL literal of unknown type, which Postgres resolves to the parameter's type exactly as it does an
 * untyped bound parameter. Quotes are doubled and backslashes escaped (an E'' string) by the same rules as
 * `pg`'s escapeLiteral; a NUL character, which no Postgres text can hold and the simple query protocol would cut
 * the statement at, is refused before anything is sent.
 */
export function literal(value: unknown): string {
  if (value === undefined || value === null) {
    return 'null';
  }
  let text: string;
  if (value instanceof Date) {
    text = value.toISOString();
  } else if (typeof value === 'object') {
    // jsonb arguments (a patch): the JSON text, which Postgres parses into the parameter's type.
    text = JSON.stringify(value);
  } else if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
    text = String(value);
  } else {
    throw new Error(`Cannot pass a ${typeof value} to SQL`);
  }
  refuseNul(text);
  return escapeLiteral(text);
}
