/** One submission's outcome within a group: its own result, or its own failure. */
export type GroupOutcome<Result> = { ok: true; value: Result } | { ok: false; error: unknown };

export interface GroupCommitOptions {
  /** The most submissions one group takes. */
  maxSize: number;
  /** How many groups may run at once, each on keys no other running group holds (1 for a single-connection engine). */
  maxInFlight: number;
}

interface Pending<Item, Result> {
  item: Item;
  key: string;
  resolve(value: Result): void;
  reject(error: unknown): void;
}

/** A line of groups, one running at a time; the keys it holds are in no other lane while they have submissions. */
interface Lane<Item, Result> {
  queue: Pending<Item, Result>[];
  running: boolean;
  scheduled: boolean;
  /** Its submissions not settled yet, queued or running. */
  load: number;
}

/**
 * Group commit: submissions that arrive while a group is running wait, and the next group takes them all
 * (up to `maxSize`) in one go. An idle committer runs a lone submission at once (after the current turn of the
 * event loop, so submissions of the same turn share a group), so grouping adds no wait, only less work per
 * submission under load. Each submission settles with its own outcome, after `runGroup` settled, that is after
 * the commit that holds it; a group that fails as a whole fails every submission in it.
 *
 * Up to `maxInFlight` groups run at once, in lanes that share no key (`keyOf`: a message's room, whose row each
 * send locks until its commit): a key's submissions all go to one lane while any of them is unsettled, so they keep
 * their order and never wait on each other's locks from two groups; a key with none goes to the lane with the
 * fewest. Groups that shared rooms would queue on the rooms' row locks instead of running side by side.
 */
export class GroupCommitter<Item, Result> {
  private readonly lanes: Lane<Item, Result>[];
  /** Each key with unsettled submissions: its lane, and how many. */
  private readonly held = new Map<string, { lane: Lane<Item, Result>; unsettled: number }>();

  constructor(
    private readonly runGroup: (items: Item[]) => Promise<GroupOutcome<Result>[]>,
    private readonly options: GroupCommitOptions,
    private readonly keyOf: (item: Item) => string = () => '',
  ) {
    this.lanes = Array.from({ length: Math.max(1, options.maxInFlight) }, () => ({
      queue: [],
      running: false,
      scheduled: false,
      load: 0,
    }));
  }

  submit(item: Item): Promise<Result> {
    const key = this.keyOf(item);
    let held = this.held.get(key);
    if (!held) {
      held = { lane: this.lanes.reduce((least, lane) => (lane.load < least.load ? lane : least)), unsettled: 0 };
      this.held.set(key, held);
    }
    held.unsettled++;
    const lane = held.lane;
    lane.load++;
    return new Promise<Result>((resolve, reject) => {
      lane.queue.push({ item, key, resolve, reject });
      this.schedule(lane);
    });
  }

  private schedule(lane: Lane<Item, Result>): void {
    if (lane.scheduled || lane.running || lane.queue.length === 0) {
      return;
    }
    lane.scheduled = true;
    setImmediate(() => {
      // Nothing else starts this lane's group or takes its queue: it runs now.
      lane.scheduled = false;
      lane.running = true;
      void this.run(lane, lane.queue.splice(0, this.options.maxSize)).finally(() => {
        lane.running = false;
        this.schedule(lane);
      });
    });
  }

  private async run(lane: Lane<Item, Result>, group: Pending<Item, Result>[]): Promise<void> {
    let outcomes: GroupOutcome<Result>[] | undefined;
    let failure: unknown;
    try {
      outcomes = await this.runGroup(group.map((pending) => pending.item));
    } catch (error) {
      failure = error;
    }
    // Released before any submitter runs: a key with nothing left unsettled may go to another lane.
    for (const { key } of group) {
      const held = this.held.get(key);
      if (held && --held.unsettled === 0) {
        this.held.delete(key);
      }
    }
    lane.load -= group.length;
    group.forEach((pending, i) => {
      if (!outcomes) {
        pending.reject(failure);
        return;
      }
      const outcome = outcomes[i] ?? { ok: false, error: new Error('the group returned no outcome for a submission') };
      if (outcome.ok) {
        pending.resolve(outcome.value);
      } else {
        pending.reject(outcome.error);
      }
    });
  }
}
