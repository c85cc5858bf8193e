/** The SQL steps of an import (data-importer.ts): the insert of a batch, the checks and fix-ups around the load. */
import type { PgDatabase } from '../persistence/drivers/pg.database';
import { quoteIdent, type AppTable } from './app-tables';
import type { ValidationReport } from './data-validator';
import { ExportFileError, type ExportHeader } from './export-format';
import type { SqlRunner } from './sql-runner';

export type ImportMode = 'empty' | 'replace' | 'merge';

/** The target holds data it was not told to take, or is older than the file. */
export class ImportRefusedError extends Error {
  override readonly name = 'ImportRefusedError';
}

export function insertSql(table: AppTable, columns: string[], merge: boolean): string {
  const list = columns.map(quoteIdent).join(', ');
  let conflict = '';
  if (merge) {
    // A row already there takes the file's values when they differ (a message edited, a room's counters moved on
    // since the last run); one that is the same is left alone, so a run with nothing new writes nothing.
    const changeable = columns.filter((c) => !table.primaryKey.includes(c)).map(quoteIdent);
    const values = (prefix: string) => changeable.map((c) => `${prefix}.${c}`).join(', ');
    conflict = changeable.length
      ? ` on conflict (${table.primaryKey.map(quoteIdent).join(', ')}) do update set (${changeable.join(', ')}) = ` +
        `row(${values('excluded')}) where row(${values('t')}) is distinct from row(${values('excluded')})`
      : ' on conflict do nothing';
  }
  return (
    `with ins as (insert into ${table.sql} as t (${list}) overriding system value ` +
    `select ${list} from jsonb_populate_recordset(null::${table.sql}, $1::jsonb)${conflict} returning 1) ` +
    `select count(*) as n from ins`
  );
}

export async function refuseUnlessAllowed(
  target: PgDatabase,
  tables: AppTable[],
  mode: ImportMode,
  header: ExportHeader,
): Promise<void> {
  if (mode === 'replace') {
    return;
  }
  const holding: string[] = [];
  for (const table of tables) {
    const [{ found }] = await target.query<{ found: boolean }>(`select exists (select 1 from ${table.sql}) as found`);
    if (found) {
      holding.push(table.name);
    }
  }
  if (!holding.length) {
    return;
  }
  if (mode === 'merge') {
    const [{ same }] = await target.query<{ same: boolean }>(
      'select exists (select 1 from chat_meta.data_imports where source_id = $1) as same',
      [header.source.id],
    );
    if (same) {
      return;
    }
  }
  throw new ImportRefusedError(
    `the target database already holds data (${holding.join(', ')}): import into an empty database, ` +
      'or pass --replace to delete what it holds first',
  );
}

/** Rows of rooms deleted while the export ran: a room's rows go with it. */
export async function dropRooms(db: SqlRunner, tables: AppTable[], rooms: string[]): Promise<void> {
  if (!rooms.length) {
    return;
  }
  for (const table of tables.filter((t) => t.columns.some((c) => c.name === 'chatroom_id'))) {
    await db.query(`delete from ${table.sql} where chatroom_id = any($1::uuid[])`, [rooms]);
  }
}

/** Sequences of serial and identity columns continue after the highest value imported. */
export async function resetSequences(db: SqlRunner, tables: AppTable[]): Promise<void> {
  for (const table of tables) {
    for (const column of table.columns.filter((c) => ['smallint', 'integer', 'bigint'].includes(c.type))) {
      const [{ seq }] = await db.query<{ seq: string | null }>('select pg_get_serial_sequence($1, $2) as seq', [
        table.sql,
        column.name,
      ]);
      if (seq) {
        await db.query(
          `select setval($1, coalesce((select max(${quoteIdent(column.name)}) from ${table.sql}), 0) + 1, false)`,
          [seq],
        );
      }
    }
  }
}

export async function markFinished(db: SqlRunner, header: ExportHeader, validation: ValidationReport): Promise<void> {
  if (validation.ok) {
    await db.query('update chat_meta.data_imports set finished_at = now() where source_id = $1', [header.source.id]);
  }
}

/** A row the database could not read is a damaged file, said as such. */
export function wrapLoadError(error: unknown): unknown {
  const code = (error as { code?: string }).code;
  if (code === '22P02' || code === '22023' || code === '42804') {
    return new ExportFileError(`a row of the file does not fit its table: ${(error as Error).message}`);
  }
  return error;
}
