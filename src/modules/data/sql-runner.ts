import type { PoolClient } from 'pg';

/** What export, import and validation need of a database: raw SQL as the connecting user. */
export interface SqlRunner {
  query<Row = Record<string, unknown>>(sql: string, values?: unknown[]): Promise<Row[]>;
}

/** One connection as a SqlRunner: every statement runs in its session (and its open transaction). */
export function runnerOf(client: PoolClient): SqlRunner {
  return {
    async query<Row>(sql: string, values: unknown[] = []) {
      return (await client.query(sql, values)).rows as Row[];
    },
  };
}
