/**
 * Loads an export file into a database whose schema the app's migrations made (roles, policies and functions come
 * from there, not from the file), then validates it.
 *
 * Rows go in with `session_replication_role = replica`: no trigger runs (a member's insert would otherwise make
 * read pointers of its own, a message's would move them) and no foreign key is checked row by row, so the file's
 * order does not matter; the validation checks every foreign key afterwards instead.
 * - `empty` (the default) refuses a database that holds app data, `replace` empties it first: both load in one
 *   transaction that commits only when the validation passes, so a failure leaves the target as it was.
 * - `merge` (migrate-data) commits batch by batch and leaves rows already there alone unless the file's differ, so an
 *   interrupted run resumes where it stopped and a second run copies only what is new or changed; it takes a
 *   database that holds data only when that data came from the same source (chat_meta.data_imports).
 */
import type { PoolClient } from 'pg';
import type { PgDatabase } from '../persistence/drivers/pg.database';
import { listMigrations, runMigrations } from '../persistence/migration-runner';
import { appTables } from './app-tables';
import { validateData, type ValidationReport } from './data-validator';
import type { ExportHeader, ExportTrailer } from './export-format';
import { readExportLines, splitRowLine, verifyExportFile } from './export-file';
import {
  dropRooms,
  ImportRefusedError,
  insertSql,
  markFinished,
  refuseUnlessAllowed,
  resetSequences,
  wrapLoadError,
  type ImportMode,
} from './import-steps';
import { runnerOf, type SqlRunner } from './sql-runner';

export { ImportRefusedError, type ImportMode };

export interface ImportOptions {
  mode?: ImportMode;
  /** Rows per insert. */
  batchSize?: number;
  /** Told after each batch (merge: after its commit). */
  onBatch?: (progress: { table: string; rows: number; inserted: number }) => void;
  /** The app's migrations (tests: another set). */
  migrationsDir?: string;
}

export interface ImportResult {
  header: ExportHeader;
  trailer: ExportTrailer;
  /** Rows inserted per table (merge: new rows, and rows whose values changed since the last run). */
  inserted: Record<string, number>;
  validation: ValidationReport;
  /** Whether the rows stayed (a failed validation of `empty`/`replace` rolls them back). */
  committed: boolean;
  /** Migrations newer than the file that ran on its rows after the load. */
  migratedAfter?: string[];
}


/**
 * Verifies the file, brings the target to the file's migration level (so its rows fit the tables as they were),
 * loads and validates them, then runs the later migrations — their data steps too — on the loaded rows and validates
 * again.
 */
export async function importFile(target: PgDatabase, path: string, options: ImportOptions = {}): Promise<ImportResult> {
  const { header, trailer } = await verifyExportFile(path);
  const known = new Set((await listMigrations(options.migrationsDir)).map((m) => m.version));
  const unknown = header.migrations.filter((v) => !known.has(v));
  if (unknown.length) {
    throw new ImportRefusedError(
      `the file comes from a newer version of the app (migration ${unknown[unknown.length - 1]} is not known here): import it with that version`,
    );
  }
  await runMigrations(target, options.migrationsDir, header.migration || undefined);
  const ahead = (await target.query<{ version: string }>('select version from chat_meta.migrations'))
    .map((r) => r.version)
    .filter((v) => v > header.migration);
  let loaded: ImportResult;
  try {
    loaded = await load(target, path, header, trailer, options);
  } catch (error) {
    if (ahead.length && !(error instanceof ImportRefusedError)) {
      throw new ImportRefusedError(
        `${(error as Error).message} (the file is at migration ${header.migration}, the target already past it at ` +
          `${ahead[ahead.length - 1]}: import into a fresh database, which is brought to the file's level first)`,
        { cause: error },
      );
    }
    throw error;
  }
  const later = loaded.committed ? await runMigrations(target, options.migrationsDir) : [];
  if (!later.length) {
    return loaded;
  }
  // Later migrations may add rows of their own (a table filled from existing ones): counts were checked before them.
  const after = await validateData(target);
  return {
    ...loaded,
    migratedAfter: later,
    validation: {
      ok: loaded.validation.ok && after.ok,
      tables: after.tables,
      problems: [...loaded.validation.problems, ...after.problems],
    },
  };
}

async function load(
  target: PgDatabase,
  path: string,
  header: ExportHeader,
  trailer: ExportTrailer,
  options: ImportOptions,
): Promise<ImportResult> {
  const mode = options.mode ?? 'empty';
  const tables = await appTables(target);
  const plan = header.tables.map((fileTable) => {
    const table = tables.find((t) => t.name === fileTable.name);
    if (!table) {
      throw new ImportRefusedError(`${fileTable.name} is in the file but not in this database`);
    }
    const missing = fileTable.columns.filter((c) => !table.columns.some((col) => col.name === c));
    if (missing.length) {
      throw new ImportRefusedError(`${fileTable.name}: columns ${missing.join(', ')} are not in this database`);
    }
    return { table, insert: insertSql(table, fileTable.columns, mode === 'merge') };
  });
  await target.query(`create table if not exists chat_meta.data_imports (
    source_id text primary key, file_created_at timestamptz not null,
    started_at timestamptz not null default now(), finished_at timestamptz)`);
  await refuseUnlessAllowed(target, tables, mode, header);
  await target.query(
    `insert into chat_meta.data_imports (source_id, file_created_at) values ($1, $2)
     on conflict (source_id) do update set file_created_at = excluded.file_created_at, finished_at = null`,
    [header.source.id, header.createdAt],
  );

  const inserted: Record<string, number> = Object.fromEntries(header.tables.map((t) => [t.name, 0]));
  const batchSize = options.batchSize ?? 1000;
  const load = async (client: PoolClient, perBatch?: (work: () => Promise<number>) => Promise<number>) => {
    const db = runnerOf(client);
    let pending: { table: number; json: string[] } | undefined;
    const flush = async () => {
      if (!pending?.json.length) {
        return;
      }
      const { table, json } = pending;
      pending = undefined;
      const run = async () => {
        const [{ n }] = await db.query<{ n: string }>(plan[table].insert, [`[${json.join(',')}]`]);
        return Number(n);
      };
      const n = perBatch ? await perBatch(run) : await run();
      const name = header.tables[table].name;
      inserted[name] += n;
      options.onBatch?.({ table: name, rows: json.length, inserted: n });
    };
    let first = true;
    for await (const line of readExportLines(path)) {
      if (first) {
        first = false;
        continue;
      }
      const row = splitRowLine(line);
      if (!row) {
        continue; // the trailer
      }
      if (pending && (pending.table !== row.table || pending.json.length >= batchSize)) {
        await flush();
      }
      pending ??= { table: row.table, json: [] };
      pending.json.push(row.json);
    }
    await flush();
  };
  const finish = async (db: SqlRunner) => {
    await dropRooms(db, tables, trailer.droppedRooms);
    await resetSequences(db, tables);
  };

  if (mode === 'merge') {
    await target.withClient(async (client) => {
      await client.query('set session_replication_role = replica');
      try {
        await load(client, async (work) => {
          await client.query('begin');
          try {
            const n = await work();
            await client.query('commit');
            return n;
          } catch (error) {
            await client.query('rollback');
            throw error;
          }
        });
        await finish(runnerOf(client));
      } finally {
        await client.query('set session_replication_role = origin');
      }
    });
    const validation = await validateData(target, trailer.rows);
    await markFinished(target, header, validation);
    return { header, trailer, inserted, validation, committed: true };
  }

  return target.withClient(async (client) => {
    await client.query('begin');
    try {
      await client.query('set local session_replication_role = replica');
      if (mode === 'replace') {
        await client.query(`truncate ${tables.map((t) => t.sql).join(', ')}`);
      }
      await load(client);
      const db = runnerOf(client);
      await finish(db);
      await client.query('set local session_replication_role = origin');
      const validation = await validateData(db, trailer.rows);
      if (!validation.ok) {
        await client.query('rollback');
        return { header, trailer, inserted, validation, committed: false };
      }
      await markFinished(db, header, validation);
      await client.query('commit');
      return { header, trailer, inserted, validation, committed: true };
    } catch (error) {
      await client.query('rollback').catch(() => undefined);
      throw wrapLoadError(error);
    }
  });
}
