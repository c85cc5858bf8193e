/** One submission's outcome within a group: its own result, or its own failure. */
export type GroupOutcome<Result> = { ok: true; value: Result } | { ok: false; error: unknown };

export interface GroupCommitOptions {
  /** The most submissions one group takes. */
  maxSize: number;
  /** How many groups may run at once (1 for a single-connection engine). */
  maxInFlight: number;
}

interface Pending<Item, Result> {
  item: Item;
  resolve(value: Result): void;
  reject(error: unknown): void;
}

/**
 * Group commit: submissions that arrive while a group is running wait, and the next group takes them all
 * (up to `maxSize`) in one go. An idle committer runs a lone submission at once (after the current turn of the
 * event loop, so submissions of the same turn share a group), so grouping adds no wait, only less work per
 * submission under load. Each submission settles with its own outcome, after `runGroup` settled, that is after
 * the commit that holds it; a group that fails as a whole fails every submission in it.
 */
export class GroupCommitter<Item, Result> {
  private readonly queue: Pending<Item, Result>[] = [];
  private inFlight = 0;
  private scheduled = false;

  constructor(
    private readonly runGroup: (items: Item[]) => Promise<GroupOutcome<Result>[]>,
    private readonly options: GroupCommitOptions,
  ) {}

  submit(item: Item): Promise<Result> {
    return new Promise<Result>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.queue.length === 0 || this.inFlight >= this.options.maxInFlight) {
      return;
    }
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.startGroups();
    });
  }

  private startGroups(): void {
    while (this.queue.length > 0 && this.inFlight < this.options.maxInFlight) {
      const group = this.queue.splice(0, this.options.maxSize);
      this.inFlight++;
      void this.run(group).finally(() => {
        this.inFlight--;
        this.schedule();
      });
    }
  }

  private async run(group: Pending<Item, Result>[]): Promise<void> {
    let outcomes: GroupOutcome<Result>[];
    try {
      outcomes = await this.runGroup(group.map((pending) => pending.item));
    } catch (error) {
      group.forEach((pending) => pending.reject(error));
      return;
    }
    group.forEach((pending, i) => {
      const outcome = outcomes[i] ?? { ok: false, error: new Error('the group returned no outcome for a submission') };
      if (outcome.ok) {
        pending.resolve(outcome.value);
      } else {
        pending.reject(outcome.error);
      }
    });
  }
}
