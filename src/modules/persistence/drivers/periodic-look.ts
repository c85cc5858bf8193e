/**
 * A look every `everyMs` that never keeps the process alive, one at a time: asked for while one runs, `check()` gives
 * that one's answer. The embedded engine's background work (checkpoints, statistics) is looked after this way: each
 * kind says what one look does.
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
