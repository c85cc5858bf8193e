import { TableMaintenance } from './periodic-look';

/**
 * Freezing for the embedded engine. Postgres tells row versions apart by 32-bit transaction ids: a row whose id is
 * more than 2^31 transactions old reads as one from the future and vanishes, unless a VACUUM has frozen it first. A
 * Postgres server's autovacuum does that to every table whose oldest unfrozen id (`relfrozenxid`) is older than
 * `autovacuum_freeze_max_age` (200 million), and under a postmaster Postgres refuses new transactions 3 million short
 * of the wrap. PGlite's single-user backend has no autovacuum, and outside a postmaster Postgres only warns: left
 * alone, a server that has run through 2^31 transaction ids (a send takes ~2, its transaction's share and
 * `post_message`'s subtransaction: 2.0 alone, 2.04 in groups of 25, measured; 124 days at 100 sends/s) would lose its
 * oldest messages. MultiXact ids (sends grouped into one room make ~2 each) wrap the same way and are frozen by the
 * same VACUUM.
 *
 * So the app does what autovacuum would: every `everyMs` it VACUUM FREEZEs each table (the catalogs' too) whose
 * transaction or MultiXact ids are older than Postgres's own thresholds, on the engine's one connection. It is rare
 * (once per 200 million transactions) and, like every call there, holds the calls after it while it runs.
 */
export interface EmbeddedFreezeOptions {
  /** How often to look. */
  everyMs: number;
  /** Freeze a table whose transaction ids are older than this; Postgres's `autovacuum_freeze_max_age` if unset. */
  maxXidAge?: number;
  /** The same for MultiXact ids; Postgres's `autovacuum_multixact_freeze_max_age` if unset. */
  maxMultixactAge?: number;
  /** Told after each look that froze tables, with their names and how long it took (logs, tests). */
  onFreeze?: (done: { tables: string[]; durationMs: number }) => void;
  /** Told when a look or a vacuum failed; the next look tries again. */
  onError?: (error: unknown) => void;
}

/** A look is one query on the catalog; the thresholds are hundreds of millions of transactions away. */
export const EMBEDDED_FREEZE: EmbeddedFreezeOptions = { everyMs: 300_000 };

/**
 * The tables (of every schema, with their TOAST tables, which a VACUUM of the table covers) past either threshold,
 * by name as SQL reads it.
 */
const OLD_TABLES_SQL = `
  select c.oid::regclass::text as name
    from pg_catalog.pg_class c left join pg_catalog.pg_class t on t.oid = c.reltoastrelid
   where c.relkind in ('r', 'm') and c.relpersistence <> 't'
     and (greatest(pg_catalog.age(c.relfrozenxid), coalesce(pg_catalog.age(t.relfrozenxid), 0))
            > coalesce($1::bigint, pg_catalog.current_setting('autovacuum_freeze_max_age')::bigint)
       or greatest(pg_catalog.mxid_age(c.relminmxid), coalesce(pg_catalog.mxid_age(t.relminmxid), 0))
            > coalesce($2::bigint, pg_catalog.current_setting('autovacuum_multixact_freeze_max_age')::bigint))
   order by 1`;

export class EmbeddedFreeze extends TableMaintenance {
  constructor(
    db: { query<Row>(sql: string, values?: unknown[]): Promise<Row[]> },
    private readonly options: EmbeddedFreezeOptions = EMBEDDED_FREEZE,
  ) {
    super(db, options.everyMs, { onDone: options.onFreeze, onError: options.onError });
  }

  protected async due(): Promise<string[]> {
    const old = await this.db.query<{ name: string }>(OLD_TABLES_SQL, [
      this.options.maxXidAge ?? null,
      this.options.maxMultixactAge ?? null,
    ]);
    return old.map((table) => table.name);
  }

  /** A VACUUM runs outside a transaction: alone in its query. */
  protected statement(tables: string): string {
    return `vacuum (freeze) ${tables}`;
  }
}
