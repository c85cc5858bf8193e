import { TableMaintenance } from './periodic-look';

/**
 * Table statistics for the embedded engine. A Postgres server's autovacuum ANALYZEs a table as it grows; PGlite's
 * single-user backend has no autovacuum, and its table counters are not kept either (`pg_stat_user_tables` stays at
 * zero for the messages), so left alone the planner never learns how large a table has grown. Plans that a function
 * caches while its tables are small then last for the life of the engine's one backend: the duplicate check of every
 * send (`messages` by room, sender and client id) was planned on the freshly made database as a scan of the room's
 * messages by `(chatroom_id, rev)`, so a send cost more with every message of its room — 10.8 ms into a room of
 * 20,000 messages against 3.2 ms into a small one, 1.9 against 1.8 ms with this (`npm run bench:room-size`,
 * bench/README.md "Busy rooms"). So the app
 * does what autovacuum would: every `everyMs` it ANALYZEs each table that has grown by a page and by `growth` of its
 * size at its last analyze, on the engine's one connection (queued behind the calls before it, like any other). An
 * ANALYZE invalidates the plans that read the table, and the next call plans with what it learned.
 */
export interface EmbeddedAnalyzeOptions {
  /** How often to look. */
  everyMs: number;
  /** Analyze a table once it has grown by this share of its pages at its last analyze (and by one page at least). */
  growth: number;
  /**
   * The statistics target of these analyzes (Postgres's default is 100: a sample of 30,000 rows). An ANALYZE holds
   * the engine's one connection, so every call waits for it: `messages` took 94–107 ms at 20,000 rows and 295–300 ms
   * at 100,000 with 100, 22 and 45–53 ms with 10 (a sample of 3,000), which still tells the planner a table's size
   * and its rooms apart.
   */
  statisticsTarget: number;
  /** Told after each look that analyzed tables, with their names and how long it took (logs, tests). */
  onAnalyze?: (done: { tables: string[]; durationMs: number }) => void;
  /** Told when a look or an analyze failed; the next look tries again. */
  onError?: (error: unknown) => void;
}

/** Autovacuum's own default share (autovacuum_analyze_scale_factor), at the checkpoints' pace. */
export const EMBEDDED_ANALYZE: EmbeddedAnalyzeOptions = { everyMs: 30_000, growth: 0.1, statisticsTarget: 10 };

/** The tables grown past their last analyze (`relpages` is what it counted), by name as SQL reads it. */
const GROWN_TABLES_SQL = `
  select c.oid::regclass::text as name
    from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
   where c.relkind = 'r'
     and n.nspname <> 'information_schema' and n.nspname !~ '^pg_'
     and pg_catalog.pg_relation_size(c.oid) / pg_catalog.current_setting('block_size')::bigint
         >= c.relpages + greatest(1, ceil(c.relpages * $1::float8))
   order by 1`;

export class EmbeddedAnalyze extends TableMaintenance {
  constructor(
    db: { query<Row>(sql: string, values?: unknown[]): Promise<Row[]> },
    private readonly options: EmbeddedAnalyzeOptions = EMBEDDED_ANALYZE,
  ) {
    super(db, options.everyMs, { onDone: options.onAnalyze, onError: options.onError });
  }

  protected async due(): Promise<string[]> {
    const grown = await this.db.query<{ name: string }>(GROWN_TABLES_SQL, [this.options.growth]);
    return grown.map((table) => table.name);
  }

  /** One simple query is one implicit transaction: the setting ends with it, and a failure leaves nothing open. */
  protected statement(tables: string): string {
    return `set local default_statistics_target = ${Math.trunc(this.options.statisticsTarget)}; analyze ${tables}`;
  }
}
