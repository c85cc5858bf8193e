/**
 * Reads every table the app owns (app-tables.ts) as export lines (export-format.ts), in short batches, so that a
 * server sharing the connection keeps serving between them.
 *
 * Consistent at a watermark, without holding a transaction open (the embedded engine has one session, shared with
 * the server): each room's `last_seq` is captured first, and only what lies at or below it is read — a room's
 * messages up to it, rows that point to a message only if that message is in, a room's `*_seq` pointers clamped to
 * it, rooms created later not at all. Every message acknowledged before the export began is therefore in the file,
 * and no room holds a half of what was written with it. Children are read before their parents, so a parent that a
 * row names is read after it (a room deleted meanwhile is named in the trailer and its rows dropped on import).
 * Where the caller holds the connection alone it may also run the whole read in one snapshot (export.ts does).
 */
import { createHash } from 'node:crypto';
import { appTables, quoteIdent, type AppTable } from './app-tables';
import { EXPORT_FORMAT, EXPORT_VERSION, type ExportHeader, type ExportTrailer } from './export-format';
import type { SqlRunner } from './sql-runner';

/** The room table with its counter, and the table the counter numbers: what the watermark is taken on. */
export const ROOMS = 'public.chatrooms';
export const MESSAGES = 'public.messages';
const ROOM_COLUMN = 'chatroom_id';

export interface ExportOptions {
  driver: string;
  /** Rows per read (1000: a few tens of milliseconds of the embedded engine, which the server shares). */
  batchSize?: number;
  localJwtSecret?: string;
  /** Stops between batches. */
  signal?: AbortSignal;
}

export async function* exportLines(db: SqlRunner, options: ExportOptions): AsyncGenerator<string> {
  const batchSize = options.batchSize ?? 1000;
  const [{ watermark }] = await db.query<{ watermark: Record<string, string> }>(
    `select coalesce(jsonb_object_agg(id::text, last_seq), '{}') as watermark from public.chatrooms`,
  );
  const tables = await appTables(db);
  const migrations = (
    await db.query<{ version: string }>('select version from chat_meta.migrations order by version')
  ).map((r) => r.version);
  const header: ExportHeader = {
    format: EXPORT_FORMAT,
    version: EXPORT_VERSION,
    createdAt: new Date().toISOString(),
    source: { driver: options.driver, id: await sourceId(db) },
    migration: migrations[migrations.length - 1] ?? '',
    migrations,
    tables: tables.map((t) => ({ name: t.name, columns: t.columns.map((c) => c.name) })),
    watermark: { rooms: Object.keys(watermark).length },
    ...(options.localJwtSecret ? { localJwtSecret: options.localJwtSecret } : {}),
  };
  const hash = createHash('sha256');
  const emit = (line: string) => {
    hash.update(`${line}\n`);
    return line;
  };
  yield emit(JSON.stringify(header));

  const rows: Record<string, number> = {};
  const watermarkJson = JSON.stringify(watermark);
  let presentRooms = new Set<string>();
  for (const table of [...tables].reverse()) {
    const index = tables.indexOf(table);
    const sql = batchQuery(table, batchSize);
    let after: string[] | undefined;
    rows[table.name] = 0;
    for (;;) {
      options.signal?.throwIfAborted();
      const batch = await db.query<{ j: string; k: string[] }>(after ? sql.next : sql.first, [
        watermarkJson,
        ...(after ?? []),
      ]);
      for (const row of batch) {
        yield emit(`[${index},${row.j}]`);
      }
      rows[table.name] += batch.length;
      if (table.name === ROOMS) {
        batch.forEach((row) => presentRooms.add(row.k[0]));
      }
      if (batch.length < batchSize) {
        break;
      }
      after = batch[batch.length - 1].k;
    }
  }
  if (!tables.some((t) => t.name === ROOMS)) {
    presentRooms = new Set(Object.keys(watermark));
  }
  const trailer: Omit<ExportTrailer, 'sha256'> = {
    end: true,
    rows,
    droppedRooms: Object.keys(watermark).filter((id) => !presentRooms.has(id)),
  };
  yield JSON.stringify({ ...trailer, sha256: hash.digest('hex') });
}

/** The cluster's system identifier and the database: the same source gives the same id. */
async function sourceId(db: SqlRunner): Promise<string> {
  const [row] = await db.query<{ id: string }>(
    `select (select system_identifier::text from pg_control_system()) || '/' || current_database() as id`,
  );
  return row.id;
}

/** The first and the following batch of a table, in primary key order, restricted to the watermark (`$1`). */
function batchQuery(table: AppTable, batchSize: number): { first: string; next: string } {
  const columns = new Set(table.columns.map((c) => c.name));
  const inRoom = (expr: string) => `($1::jsonb ? (${expr})::text)`;
  const roomSeq = (expr: string) => `($1::jsonb ->> (${expr})::text)::bigint`;
  const messageIn = (expr: string) =>
    `exists (select 1 from public.messages m where m.id = ${expr} and m.seq <= ${roomSeq('m.chatroom_id')})`;

  const where: string[] = [];
  const values = new Map(table.columns.map((c) => [c.name, `t.${quoteIdent(c.name)}`]));
  if (table.name === ROOMS) {
    where.push(inRoom('t.id'));
    values.set('last_seq', roomSeq('t.id'));
  } else if (columns.has(ROOM_COLUMN)) {
    where.push(`(t.${ROOM_COLUMN} is null or ${inRoom(`t.${ROOM_COLUMN}`)})`);
    for (const column of table.columns) {
      if (column.name.endsWith('_seq') && column.type === 'bigint') {
        values.set(column.name, `least(t.${quoteIdent(column.name)}, ${roomSeq(`t.${ROOM_COLUMN}`)})`);
      }
    }
  }
  if (table.name === MESSAGES) {
    where.push(`t.seq <= ${roomSeq(`t.${ROOM_COLUMN}`)}`);
  }
  for (const fk of table.foreignKeys) {
    if (fk.columns.length !== 1) {
      continue;
    }
    const column = `t.${quoteIdent(fk.columns[0])}`;
    const notNull = table.columns.find((c) => c.name === fk.columns[0])?.notNull ?? true;
    if (fk.references === MESSAGES) {
      // A row that must name a later message is left out; one that may name none names none.
      if (notNull) {
        where.push(messageIn(column));
      } else {
        values.set(fk.columns[0], `case when ${messageIn(column)} then ${column} end`);
      }
    } else if (fk.references === ROOMS && fk.columns[0] !== ROOM_COLUMN) {
      where.push(`(${column} is null or ${inRoom(column)})`);
    }
  }

  // jsonb_build_object takes at most 100 arguments: 50 columns a call.
  const pairs = [...values].map(([name, expr]) => `'${name.replace(/'/g, "''")}', ${expr}`);
  const objects: string[] = [];
  for (let i = 0; i < pairs.length; i += 50) {
    objects.push(`jsonb_build_object(${pairs.slice(i, i + 50).join(', ')})`);
  }
  const key = table.primaryKey.map((c) => `t.${quoteIdent(c)}`);
  const types = table.primaryKey.map((c) => table.columns.find((col) => col.name === c)?.type ?? 'text');
  const select =
    `select (${objects.join(' || ')})::text as j, array[${key.map((k) => `${k}::text`).join(', ')}] as k ` +
    `from ${table.sql} t where ${where.length ? where.join(' and ') : '$1::jsonb is not null'}`;
  const order = ` order by ${key.join(', ')} limit ${batchSize}`;
  const after = ` and (${key.join(', ')}) > (${types.map((type, i) => `$${i + 2}::${type}`).join(', ')})`;
  return { first: select + order, next: select + after + order };
}
