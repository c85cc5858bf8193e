/**
 * A look every `everyMs` that never keeps the process alive, one at a time: asked for while one runs, `check()` gives
 * that one's answer. The embedded engine's background work (checkpoints, statistics, freezing) is looked after this
 * way: each kind says what one look does.
 */
export abstract class PeriodicLook<T> {
  private timer?: NodeJS.Timeout;
  private current?: Promise<T>;

  constructor(private readonly everyMs: number) {}

  start(): void {
    this.timer = setInterval(() => void this.check(), this.everyMs);
    this.timer.unref();
  }

  /** Looks once (unless a look is running: then that one's answer). */
  check(): Promise<T> {
    this.current ??= this.look().finally(() => (this.current = undefined));
    return this.current;
  }

  /** No more looks; resolves once a running one has ended, so the connection is free to close. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.current;
  }

  /** One look; it reports its own failures and never rejects. */
  protected abstract look(): Promise<T>;
}

/** What a table maintenance look tells: the tables it ran on and how long that took, or its failure. */
export interface TableMaintenanceReports {
  onDone?: (done: { tables: string[]; durationMs: number }) => void;
  onError?: (error: unknown) => void;
}

/**
 * A look that runs one maintenance statement (ANALYZE, VACUUM) over the tables a catalog query finds due, on the
 * engine's one connection: the tables by name as the catalog quotes them (regclass text), never request data. Its
 * answer is the tables it ran on; a failure is reported and the next look tries again.
 */
export abstract class TableMaintenance extends PeriodicLook<string[]> {
  constructor(
    protected readonly db: { query<Row>(sql: string, values?: unknown[]): Promise<Row[]> },
    everyMs: number,
    private readonly reports: TableMaintenanceReports,
  ) {
    super(everyMs);
  }

  /** The tables due, by name. */
  protected abstract due(): Promise<string[]>;

  /** The statement (one simple query) that maintains `tables`, a comma-separated list of names. */
  protected abstract statement(tables: string): string;

  protected async look(): Promise<string[]> {
    try {
      const tables = await this.due();
      if (tables.length === 0) {
        return [];
      }
      const started = performance.now();
      await this.db.query(this.statement(tables.join(', ')));
      this.reports.onDone?.({ tables, durationMs: performance.now() - started });
      return tables;
    } catch (error) {
      this.reports.onError?.(error);
      return [];
    }
  }
}
