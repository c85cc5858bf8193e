import { Pool, types, type PoolClient, type PoolConfig } from 'pg';
import type { DatabaseDriverName } from '../../../config/app-config';
import { mapDatabaseError } from '../database-error';
import { assertIdentifiers, claimsOf, type Actor, type CallObserver, type Database } from '../database.port';

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
  private observer?: CallObserver;

  constructor(
    readonly driver: DatabaseDriverName,
    config: PoolConfig,
    private readonly onClose?: () => Promise<void>,
  ) {
    this.pool = new Pool({ ...config, types: typeParsers });
    // An idle client's error (the server went away) must not crash the process; the next call reports it.
    this.pool.on('error', () => undefined);
  }

  observe(observer: CallObserver): void {
    this.observer = observer;
  }

  async call<Row = Record<string, unknown>>(
    actor: Actor,
    fn: string,
    args: Record<string, unknown> = {},
  ): Promise<Row[]> {
    assertIdentifiers(fn, args);
    const names = Object.keys(args);
    const sql = `select * from public.${fn}(${names.map((name, i) => `${name} => $${i + 1}`).join(', ')})`;
    const values = names.map((name) => toParameter(args[name]));
    const started = performance.now();
    try {
      const rows = await this.transaction(actor, (client) => client.query(sql, values).then((r) => r.rows as Row[]));
      this.observer?.(fn, performance.now() - started, 'ok');
      return rows;
    } catch (error) {
      this.observer?.(fn, performance.now() - started, 'error');
      throw mapDatabaseError(error) ?? error;
    }
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

  private async transaction<T>(actor: Actor, work: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken = false;
    try {
      // One round trip opens the transaction and takes the caller's identity (escaped literals: a simple
      // query carries no parameters); the call and the commit follow.
      const identity: [string, string][] = [
        ['role', actor.kind === 'service' ? 'service_role' : 'authenticated'],
        ['request.jwt.claims', JSON.stringify(claimsOf(actor))],
        ['request.jwt.claim.sub', actor.kind === 'user' ? actor.id : ''],
      ];
      const settings = identity.map(([key, value]) => `set_config('${key}', ${client.escapeLiteral(value)}, true)`);
      await client.query(`begin; select ${settings.join(', ')}`);
      const result = await work(client);
      await client.query('commit');
      return result;
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

function toParameter(value: unknown): unknown {
  if (value === undefined) {
    return null;
  }
  if (value !== null && typeof value === 'object' && !(value instanceof Date)) {
    return JSON.stringify(value);
  }
  return value;
}
