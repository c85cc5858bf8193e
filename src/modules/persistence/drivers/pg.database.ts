import { escapeLiteral, Pool, types, type PoolClient, type PoolConfig } from 'pg';
import type { DatabaseDriverName } from '../../../config/app-config';
import { mapDatabaseError } from '../database-error';
import {
  assertIdentifiers,
  claimsOf,
  type Actor,
  type CallObserver,
  type Database,
  type GroupableFunction,
  type GroupObserver,
  type UserActor,
} from '../database.port';
import { GroupCommitter, type GroupCommitOptions, type GroupOutcome } from './group-commit';

const INT8_OID = 20;

/** int8 (seq, counts) as JavaScript numbers: seq stays far below 2^53. */
const typeParsers = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID
      ? (value: string) => Number(value)
      : (types.getTypeParser(oid, format) as (value: string) => unknown)) as typeof types.getTypeParser,
};

/**
 * Runs the SQL functions over the Postgres wire protocol, the way PostgREST does: one transaction per call
 * that takes the actor's role and claims with SET LOCAL semantics (set_config(..., true)), so nothing of one
 * call's identity outlives it — which the embedded server, one backend session for all, depends on.
 */
export class PgDatabase implements Database {
  private readonly pool: Pool;
  private readonly postGroups: GroupCommitter<GroupedCall, Record<string, unknown>>;
  private observer?: CallObserver;
  private groupObserver?: GroupObserver;

  constructor(
    readonly driver: DatabaseDriverName,
    config: PoolConfig,
    private readonly onClose?: () => Promise<void>,
    groupCommit: GroupCommitOptions = { maxSize: 100, maxInFlight: 1 },
  ) {
    this.pool = new Pool({ ...config, types: typeParsers });
    // An idle client's error (the server went away) must not crash the process; the next call reports it.
    this.pool.on('error', () => undefined);
    this.postGroups = new GroupCommitter((calls) => this.runGroup('post_message', calls), groupCommit);
  }

  observe(observer: CallObserver, groups?: GroupObserver): void {
    this.observer = observer;
    this.groupObserver = groups;
  }

  async callGrouped<Row = Record<string, unknown>>(
    actor: UserActor,
    fn: GroupableFunction,
    args: Record<string, unknown>,
  ): Promise<Row[]> {
    assertIdentifiers(fn, args);
    try {
      // Checked alone, so a value no Postgres text can hold fails this call, not the group's statement.
      Object.values(args).forEach(literal);
      const row = await this.postGroups.submit({ actor, args });
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
      const rows = await this.inTransaction<Row>(actor, callSql(fn, args));
      this.observer?.(fn, performance.now() - started, 'ok');
      return rows;
    } catch (error) {
      this.observer?.(fn, performance.now() - started, 'error');
      throw mapDatabaseError(error) ?? error;
    }
  }

  /**
   * One group: a single statement (its own transaction) of `chat_private.<fn>_group`, which runs every call as its
   * actor in a subtransaction and returns one row per call, in order. Calls are ordered by room, so concurrent groups
   * on a Postgres server take the rooms' row locks in one order and cannot deadlock; a room's calls keep theirs.
   */
  private async runGroup(
    fn: GroupableFunction,
    calls: GroupedCall[],
  ): Promise<GroupOutcome<Record<string, unknown>>[]> {
    const order = calls
      .map((call, index) => ({ call, index }))
      .sort((a, b) => String(a.call.args.p_room_id).localeCompare(String(b.call.args.p_room_id)));
    const items = order.map(({ call }) => ({
      claims: claimsOf(call.actor),
      sub: call.actor.id,
      args: call.args,
    }));
    const started = performance.now();
    let rows: GroupedRow[];
    try {
      // A simple query (the JSON as an escaped literal): one message each way, cheaper than parse/bind/execute.
      rows = await this.query<GroupedRow>(`select * from chat_private.${fn}_group(${literal(JSON.stringify(items))})`);
    } catch (error) {
      const durationMs = performance.now() - started;
      calls.forEach(() => this.observer?.(fn, durationMs, 'error'));
      throw error;
    }
    const durationMs = performance.now() - started;
    this.groupObserver?.(fn, calls.length);
    const outcomes = new Array<GroupOutcome<Record<string, unknown>>>(calls.length);
    for (const { item, failed_code, failed_message, ...row } of rows) {
      const index = order[item].index;
      if (failed_code === null) {
        outcomes[index] = { ok: true, value: row };
        this.observer?.(fn, durationMs, 'ok');
      } else {
        outcomes[index] = { ok: false, error: Object.assign(new Error(failed_message ?? ''), { code: failed_code }) };
        this.observer?.(fn, durationMs, 'error');
      }
    }
    return outcomes;
  }

  /** Raw SQL as the connecting user, for migrations, maintenance and tests; never for request data. */
  async query<Row = Record<string, unknown>>(sql: string, values: unknown[] = []): Promise<Row[]> {
    const result = await this.pool.query(sql, values);
    return result.rows as Row[];
  }

  async withClient<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      return await work(client);
    } finally {
      client.release();
    }
  }

  async ping(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`database did not answer within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([this.pool.query('select 1'), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
    await this.onClose?.();
  }

  /**
   * One round trip: opens the transaction, takes the caller's identity with SET LOCAL semantics, runs the call and
   * commits, as one simple query (values inlined as escaped literals, see `literal`). A failure stops the query at
   * the failing statement; the rollback is the only second round trip.
   */
  private async inTransaction<Row>(actor: Actor, statement: string): Promise<Row[]> {
    const client = await this.pool.connect();
    let broken = false;
    try {
      const results = (await client.query(`begin; ${identitySql(actor)}; ${statement}; commit`)) as unknown as {
        rows: Row[];
      }[];
      return results[2].rows;
    } catch (error) {
      try {
        await client.query('rollback');
      } catch {
        broken = true;
      }
      throw error;
    } finally {
      client.release(broken);
    }
  }
}

interface GroupedCall {
  actor: UserActor;
  args: Record<string, unknown>;
}

type GroupedRow = Record<string, unknown> & { item: number; failed_code: string | null; failed_message: string | null };

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
  if (text.includes('\0')) {
    throw Object.assign(new Error('A value contains a NUL character'), { code: 'CH400' });
  }
  return escapeLiteral(text);
}
