/**
 * The tables the app owns, read from the database's catalog: every table in a schema the migrations create tables
 * in, with its columns, primary key and foreign keys. Export, import and validation all take their table list from
 * here, so a table another migration adds is carried without this code knowing its name.
 */
import { readFile } from 'node:fs/promises';
import { listMigrations, MIGRATIONS_DIR } from '../persistence/migration-runner';
import type { SqlRunner } from './sql-runner';

/**
 * Tables in the app's schemas that are not data, each with the reason. Everything else is exported; the coverage
 * test (test/data/export-coverage.e2e-spec.ts) fails on a table that is neither.
 */
export const NOT_EXPORTED: Readonly<Record<string, string>> = {
  'chat_meta.migrations': 'migration bookkeeping: the target records its own migrations when it runs them',
  'chat_meta.data_imports': 'import bookkeeping of the target itself (migrate-data resumes by it)',
};

/** Schemas whose tables belong to someone else: Supabase's own (auth.users and the rest) or the compat shims. */
const FOREIGN_SCHEMAS = ['auth', 'chat_meta'];

export interface TableColumn {
  name: string;
  /** `format_type` of the column: what a value is cast to. */
  type: string;
  notNull: boolean;
}

export interface ForeignKey {
  columns: string[];
  /** `schema.table` */
  references: string;
  referencedColumns: string[];
}

export interface AppTable {
  /** `schema.table`, as in the export file. */
  name: string;
  /** `"schema"."table"`, for SQL. */
  sql: string;
  columns: TableColumn[];
  primaryKey: string[];
  foreignKeys: ForeignKey[];
  rowLevelSecurity: boolean;
}

const CREATE_TABLE = /create\s+table\s+(?:if\s+not\s+exists\s+)?(?:([a-z_][a-z0-9_]*)\.)?([a-z_][a-z0-9_]*)/gi;

/** `schema.table` of every `create table` in the migrations (no schema: public). */
export async function tablesOfMigrations(dir = MIGRATIONS_DIR): Promise<string[]> {
  const names = new Set<string>();
  for (const migration of await listMigrations(dir)) {
    const sql = (await readFile(migration.path, 'utf8')).replace(/--.*$/gm, '');
    for (const match of sql.matchAll(CREATE_TABLE)) {
      names.add(`${(match[1] ?? 'public').toLowerCase()}.${match[2].toLowerCase()}`);
    }
  }
  return [...names].sort();
}

/** The schemas the app keeps data in: those its migrations create tables in, less the foreign ones. */
export async function appSchemas(dir = MIGRATIONS_DIR): Promise<string[]> {
  const schemas = new Set((await tablesOfMigrations(dir)).map((name) => name.split('.')[0]));
  return [...schemas].filter((schema) => !FOREIGN_SCHEMAS.includes(schema)).sort();
}

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * Every table of `schemas` that is exported, parents before children (by foreign key; a cycle keeps its catalog
 * order). Throws on a table without a primary key: it could not be read in batches.
 */
export async function appTables(db: SqlRunner, schemas?: string[]): Promise<AppTable[]> {
  const rows = await db.query<{
    name: string;
    schema: string;
    table: string;
    rls: boolean;
    columns: TableColumn[];
    primary_key: string[] | null;
    foreign_keys: ForeignKey[];
  }>(
    `select n.nspname || '.' || c.relname as name, n.nspname as schema, c.relname as table, c.relrowsecurity as rls,
       (select json_agg(json_build_object('name', a.attname, 'type', format_type(a.atttypid, a.atttypmod),
                                 'notNull', a.attnotnull)
               order by a.attnum)
          from pg_attribute a
          where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped and a.attgenerated = '') as columns,
       (select array_agg(a.attname::text order by k.ord)
          from pg_index i cross join unnest(i.indkey) with ordinality k(attnum, ord)
          join pg_attribute a on a.attrelid = c.oid and a.attnum = k.attnum
          where i.indrelid = c.oid and i.indisprimary) as primary_key,
       coalesce((select json_agg(json_build_object(
                   'columns', (select json_agg(a.attname order by k.ord) from unnest(f.conkey) with ordinality k(attnum, ord)
                               join pg_attribute a on a.attrelid = f.conrelid and a.attnum = k.attnum),
                   'references', fn.nspname || '.' || fc.relname,
                   'referencedColumns', (select json_agg(a.attname order by k.ord)
                               from unnest(f.confkey) with ordinality k(attnum, ord)
                               join pg_attribute a on a.attrelid = f.confrelid and a.attnum = k.attnum)))
          from pg_constraint f join pg_class fc on fc.oid = f.confrelid join pg_namespace fn on fn.oid = fc.relnamespace
          where f.conrelid = c.oid and f.contype = 'f'), '[]') as foreign_keys
     from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where c.relkind in ('r', 'p') and not c.relispartition and n.nspname = any($1::text[])
     order by n.nspname, c.relname`,
    [schemas ?? (await appSchemas())],
  );
  const tables = rows
    .filter((row) => !(row.name in NOT_EXPORTED))
    .map((row): AppTable => {
      if (!row.primary_key?.length) {
        throw new Error(`table ${row.name} has no primary key: it cannot be exported in batches`);
      }
      return {
        name: row.name,
        sql: `${quoteIdent(row.schema)}.${quoteIdent(row.table)}`,
        columns: row.columns,
        primaryKey: row.primary_key,
        foreignKeys: row.foreign_keys,
        rowLevelSecurity: row.rls,
      };
    });
  return parentsFirst(tables);
}

/** Orders tables so that a table comes after every table it references (self references and cycles aside). */
function parentsFirst(tables: AppTable[]): AppTable[] {
  const byName = new Map(tables.map((t) => [t.name, t]));
  const done = new Set<string>();
  const visiting = new Set<string>();
  const ordered: AppTable[] = [];
  const visit = (table: AppTable) => {
    if (done.has(table.name) || visiting.has(table.name)) {
      return;
    }
    visiting.add(table.name);
    for (const fk of table.foreignKeys) {
      const parent = byName.get(fk.references);
      if (parent && parent !== table) {
        visit(parent);
      }
    }
    visiting.delete(table.name);
    done.add(table.name);
    ordered.push(table);
  };
  tables.forEach(visit);
  return ordered;
}
