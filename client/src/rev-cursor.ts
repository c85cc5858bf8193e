/** What a change's `rev` says about the feed held: the next one, one already held, or one after a hole. */
export type RevOutcome = 'next' | 'held' | 'gap';

/**
 * The room's change feed as a client holds it (PROTOCOL.md §3 "Changes"): `rev`, the highest change number up to which
 * every change is held, and the numbers seen above it (events from several instances may come a little out of order).
 * A number more than one above `rev` means a change in between has not arrived: catch up with `afterRev = rev`.
 */
export class RevCursor {
  private heldUpTo = 0;
  private known = false;
  private readonly above = new Set<number>();

  /** The highest rev up to which every change is held (0 before any is known). */
  get rev(): number {
    return this.heldUpTo;
  }

  /** Whether a baseline is set (a join ack told the room's rev): from then on resume with `afterRev`. */
  get isKnown(): boolean {
    return this.known;
  }

  /** A rev was seen above a hole: some change between has not arrived. */
  get hasGap(): boolean {
    return this.known && this.above.size > 0;
  }

  /** A live change's rev (seen before the baseline too: kept until `settle`). */
  observe(rev: number | undefined): RevOutcome {
    if (rev === undefined || (this.known && rev <= this.heldUpTo) || this.above.has(rev)) {
      return 'held';
    }
    this.above.add(rev);
    if (!this.known) {
      return 'held';
    }
    this.advance();
    return this.above.size > 0 ? 'gap' : 'next';
  }

  /** Every change up to `rev` is held (a join ack's or a changes page's). */
  settle(rev: number | null | undefined): void {
    if (typeof rev !== 'number') {
      return;
    }
    this.known = true;
    this.heldUpTo = Math.max(this.heldUpTo, rev);
    this.advance();
  }

  private advance(): void {
    for (const rev of this.above) {
      if (rev <= this.heldUpTo) {
        this.above.delete(rev);
      }
    }
    while (this.above.delete(this.heldUpTo + 1)) {
      this.heldUpTo++;
    }
  }
}
