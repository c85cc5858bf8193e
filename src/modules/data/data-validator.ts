/**
 * Checks that a database holds whole, consistent chat data: after an import (against the counts of the file), or on
 * a live database (`npm run validate`). Read-only; every check is index-backed or one pass over a table.
 */
import { appTables, quoteIdent, type AppTable } from './app-tables';
import { MESSAGES, ROOMS } from './data-exporter';
import type { SqlRunner } from './sql-runner';

export interface ValidationReport {
  ok: boolean;
  /** Rows per table. */
  tables: Record<string, number>;
  /** What is off, one line each (empty when ok). */
  problems: string[];
}

const SHOWN = 5;

export async function validateData(db: SqlRunner, expected?: Record<string, number>): Promise<ValidationReport> {
  const tables = await appTables(db);
  const names = new Set(tables.map((t) => t.name));
  const problems: string[] = [];
  const counts: Record<string, number> = {};
  for (const table of tables) {
    const [{ n }] = await db.query<{ n: string }>(`select count(*) as n from ${table.sql}`);
    counts[table.name] = Number(n);
    if (!table.rowLevelSecurity) {
      problems.push(`${table.name}: row level security is not enabled`);
    }
  }
  if (expected) {
    for (const [name, rows] of Object.entries(expected)) {
      if (!names.has(name)) {
        problems.push(`${name}: in the file (${rows} rows) but not a table of this database`);
      } else if (counts[name] !== rows) {
        problems.push(`${name}: ${counts[name]} rows, the file holds ${rows}`);
      }
    }
  }
  if (names.has(ROOMS) && names.has(MESSAGES)) {
    const rooms = await db.query<{ id: string; last_seq: string; n: string; max: string }>(
      `select c.id, c.last_seq, count(m.seq) as n, coalesce(max(m.seq), 0) as max
       from public.chatrooms c left join public.messages m on m.chatroom_id = c.id
       group by c.id, c.last_seq
       having count(m.seq) <> c.last_seq or coalesce(max(m.seq), 0) <> c.last_seq`,
    );
    for (const room of rooms.slice(0, SHOWN)) {
      problems.push(
        `room ${room.id}: last_seq ${room.last_seq}, but ${room.n} messages with the highest seq ${room.max} (seq must run 1..last_seq without gaps)`,
      );
    }
    more(problems, rooms.length, 'rooms with seq gaps');
    problems.push(...(await revProblems(db)));
  }
  const reads = tables.find((t) => t.name === 'public.room_reads');
  if (reads && names.has(ROOMS)) {
    const [{ n }] = await db.query<{ n: string }>(
      `select count(*) as n from public.room_reads r join public.chatrooms c on c.id = r.chatroom_id
       where r.last_read_seq < 0 or r.last_read_seq > c.last_seq`,
    );
    if (Number(n) > 0) {
      problems.push(`public.room_reads: ${n} read pointers outside 0..last_seq of their room`);
    }
  }
  for (const table of tables) {
    problems.push(...(await danglingReferences(db, table)));
  }
  return { ok: problems.length === 0, tables: counts, problems };
}

/** Rows whose foreign key names no row (an import runs without the checks, so they are made here). */
async function danglingReferences(db: SqlRunner, table: AppTable): Promise<string[]> {
  const problems: string[] = [];
  for (const fk of table.foreignKeys) {
    const [schema, name] = fk.references.split('.');
    const present = fk.columns.map((c) => `c.${quoteIdent(c)} is not null`).join(' and ');
    const match = fk.columns
      .map((c, i) => `p.${quoteIdent(fk.referencedColumns[i])} = c.${quoteIdent(c)}`)
      .join(' and ');
    const [{ n }] = await db.query<{ n: string }>(
      `select count(*) as n from ${table.sql} c where ${present} and not exists
         (select 1 from ${quoteIdent(schema)}.${quoteIdent(name)} p where ${match})`,
    );
    if (Number(n) > 0) {
      problems.push(`${table.name}: ${n} rows whose ${fk.columns.join(', ')} names no row of ${fk.references}`);
    }
  }
  return problems;
}

function more(problems: string[], total: number, what: string): void {
  if (total > SHOWN) {
    problems.push(`… and ${total - SHOWN} more ${what}`);
  }
}

/**
 * The change feed's numbers (migrations/20261201000000_change_feed.sql): a room's revs are unique (a constraint) and
 * never above its last_rev, which counts at least one change per message. Older revs are superseded by a message's
 * newer change, so the stored revs may skip numbers: only the counter is gapless. Before that migration, nothing.
 */
async function revProblems(db: SqlRunner): Promise<string[]> {
  const [{ present }] = await db.query<{ present: boolean }>(
    `select exists (select 1 from information_schema.columns
       where table_schema = 'public' and table_name = 'chatrooms' and column_name = 'last_rev') as present`,
  );
  if (!present) {
    return [];
  }
  const rooms = await db.query<{ id: string; last_rev: string; last_seq: string; max: string }>(
    `select c.id, c.last_rev, c.last_seq, coalesce(max(m.rev), 0) as max
     from public.chatrooms c left join public.messages m on m.chatroom_id = c.id
     group by c.id, c.last_rev, c.last_seq
     having coalesce(max(m.rev), 0) > c.last_rev or c.last_rev < c.last_seq`,
  );
  const problems = rooms
    .slice(0, SHOWN)
    .map(
      (room) =>
        `room ${room.id}: last_rev ${room.last_rev} with last_seq ${room.last_seq} and the highest rev ${room.max} (revs must lie in 1..last_rev, last_rev >= last_seq)`,
    );
  more(problems, rooms.length, 'rooms with revs past last_rev');
  return problems;
}
