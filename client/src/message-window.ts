import type { Message, RoomEvents } from './protocol';

/** How a page goes in: below the window (`older`), with more beyond it (`hasMore`), as a re-read of it (`reread`). */
export interface PageOptions {
  older?: boolean;
  hasMore?: boolean;
  reread?: boolean;
}

/** What a live event did: taken (or changed what is held), already held, or showed a gap in seq or rev (catch up). */
export type NewOutcome = 'added' | 'duplicate' | 'gap';

/** What a `message:delta` did: applied (or stale), or it shows a missed delta (re-join with `afterSeq`). */
export type DeltaOutcome = 'applied' | 'missed';

/**
 * A room's messages as a window kept gapless by seq, each in its latest state. Messages held are seq `low..high`
 * without holes; messages above `high + 1` wait in `held` until the hole is filled (`hasGap`). `messages` is a new
 * array after each change and the same array otherwise, so a UI can compare snapshots by identity.
 */
export class MessageWindow {
  protected readonly held = new Map<number, Message>();
  protected readonly seqOf = new Map<string, number>();
  private low = 0;
  private high = 0;
  private loaded = false;
  private snapshot: readonly Message[] = [];
  /** Whether older messages exist below the oldest held (from the join ack's or a page's `hasMore`). */
  hasOlder = false;

  /** The messages held, ascending by seq, without gaps. */
  get messages(): readonly Message[] {
    return this.snapshot;
  }

  /** Whether a join ack has filled this room yet. */
  get isLoaded(): boolean {
    return this.loaded;
  }

  /** The highest seq held without a gap below it (0 for none). */
  get lastSeq(): number {
    return this.high;
  }

  /** The lowest seq held (the `beforeSeq` of the next older page); 0 when none is held. */
  get firstSeq(): number {
    return this.low;
  }

  /** Messages wait above a hole: catch up with `afterSeq = resumeAfterSeq`. */
  get hasGap(): boolean {
    return [...this.held.keys()].some((seq) => seq > this.high);
  }

  /**
   * The `afterSeq` to join with: the last seq held, or just below the oldest reply still streaming (so the ack
   * brings its text so far, PROTOCOL.md §7 "A missed delta").
   */
  get resumeAfterSeq(): number {
    let after = this.high;
    for (const message of this.snapshot) {
      if (message.status === 'streaming') {
        after = Math.min(after, message.seq - 1);
        break;
      }
    }
    return after;
  }

  /**
   * A page from a join ack or a history read, ascending. The first one places the window; later ones extend it
   * (newer after `lastSeq`, older before `firstSeq`) or refresh what is held (a reply's text so far). `reread`: a read
   * of what is held again after what the reader may see changed (a block or an unblock changes no rev): a copy of the
   * same change replaces the one held, a placeholder its message and the other way round.
   */
  mergePage(messages: readonly Message[], options: PageOptions = {}): void {
    if (!this.loaded) {
      this.loaded = true;
      if (messages.length > 0) {
        this.low = messages[0].seq;
        this.high = this.low - 1;
      }
      this.hasOlder = this.low > 1 && (options.hasMore ?? true);
    }
    for (const message of messages) {
      // Below the window only a page of older history extends it.
      if (options.older || message.seq >= this.low) {
        this.put(message, options.reread);
      }
    }
    if (options.older) {
      while (this.held.has(this.low - 1)) {
        this.low--;
      }
      this.hasOlder = this.low > 1 && (options.hasMore ?? false);
    }
    this.advance();
    this.publish();
  }

  protected takeNew(message: Message): NewOutcome {
    if (this.held.has(message.seq) || (this.loaded && message.seq < this.low)) {
      return 'duplicate';
    }
    this.put(message);
    if (!this.loaded) {
      return 'gap';
    }
    this.advance();
    if (message.seq > this.high) {
      return 'gap';
    }
    this.publish();
    return 'added';
  }

  protected takeUpdated(message: Message): NewOutcome {
    if (this.loaded && message.seq < this.low) {
      return 'duplicate';
    }
    const known = this.held.has(message.seq);
    if (!this.put(message)) {
      return 'duplicate';
    }
    if (!known) {
      this.advance();
      if (message.seq > this.high) {
        return 'gap';
      }
    }
    this.publish();
    return 'added';
  }

  /** A live `message:delta`: `delta` goes at `offset` of the content; a longer offset means one was missed. */
  applyDelta(event: RoomEvents['message:delta']): DeltaOutcome {
    const seq = this.seqOf.get(event.messageId);
    const message = seq === undefined ? undefined : this.held.get(seq);
    if (!message) {
      return 'missed';
    }
    if (message.status !== 'streaming') {
      return 'applied';
    }
    if (event.offset > message.content.length) {
      return 'missed';
    }
    const content =
      message.content.slice(0, event.offset) + event.delta + message.content.slice(event.offset + event.delta.length);
    this.held.set(message.seq, { ...message, content });
    this.publish();
    return 'applied';
  }

  /**
   * Puts a message, keeping the newer of two copies of one seq (a higher rev, a final status, more streamed text);
   * `reread`, also a copy of the same change that shows something else (see `mergePage`).
   */
  protected put(message: Message, reread = false): boolean {
    const current = this.held.get(message.seq);
    if (current && !isNewer(message, current) && !(reread && isRereadOf(message, current))) {
      return false;
    }
    this.held.set(message.seq, message);
    this.seqOf.set(message.id, message.seq);
    return true;
  }

  private advance(): void {
    while (this.held.has(this.high + 1)) {
      this.high++;
    }
    if (this.low === 0 && this.high > 0) {
      this.low = 1;
    }
  }

  /** A new snapshot when a message shown changed (or `force`: something shown beside them did). */
  protected publish(force = false): void {
    const list: Message[] = [];
    for (let seq = this.low; seq <= this.high && seq > 0; seq++) {
      list.push(this.held.get(seq)!);
    }
    if (force || list.length !== this.snapshot.length || list.some((m, i) => m !== this.snapshot[i])) {
      this.snapshot = list;
    }
  }
}

function isNewer(incoming: Message, current: Message): boolean {
  if (incoming.rev !== undefined && current.rev !== undefined) {
    if (incoming.rev !== current.rev) {
      return incoming.rev > current.rev;
    }
    if (current.status !== 'streaming') {
      return false; // the same change again
    }
  }
  if (current.status !== 'streaming') {
    return incoming.status !== 'streaming' && incoming.updatedAt >= current.updatedAt;
  }
  return incoming.status !== 'streaming' || incoming.content.length >= current.content.length;
}

/** The same change read again, showing something else: withheld from the reader now, or no longer. */
function isRereadOf(incoming: Message, current: Message): boolean {
  return (
    incoming.rev !== undefined &&
    incoming.rev === current.rev &&
    current.status !== 'streaming' &&
    (incoming.withheld !== current.withheld ||
      incoming.content !== current.content ||
      JSON.stringify(incoming.reactions) !== JSON.stringify(current.reactions))
  );
}
