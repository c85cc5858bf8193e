import type { RealtimeBroadcaster } from '../../common/realtime/realtime-broadcaster';
import type { MessageDto } from '../../common/messages/message';

/** At most one `message:delta` per message in this many milliseconds. */
export const DELTA_INTERVAL_MS = 30;

export type StopReason = 'cancelled' | 'shutdown';

/**
 * A reply while it streams: the text so far, the deltas already sent (coalesced), and the switch that
 * stops it. A late joiner is given exactly the text the deltas have carried, so the next delta's
 * offset is the length of what it holds.
 */
export class LiveReply {
  readonly controller = new AbortController();
  stopReason?: StopReason;
  private text = '';
  private emitted = 0;
  private lastEmit = 0;
  private timer?: NodeJS.Timeout;

  constructor(
    readonly message: MessageDto,
    private readonly broadcaster: RealtimeBroadcaster,
  ) {}

  get roomId(): string {
    return this.message.roomId;
  }

  get content(): string {
    return this.text;
  }

  /** What clients have been sent so far. */
  get visible(): string {
    return this.text.slice(0, this.emitted);
  }

  stop(reason: StopReason): void {
    this.stopReason ??= reason;
    this.controller.abort(reason);
  }

  append(text: string): void {
    // No Postgres text holds a NUL; a provider's stray one is dropped rather than failing the store.
    this.text += text.replaceAll('\u0000', '');
    if (this.timer) {
      return;
    }
    const wait = this.lastEmit + DELTA_INTERVAL_MS - performance.now();
    if (wait <= 0) {
      this.flush();
    } else {
      this.timer = setTimeout(() => this.flush(), wait);
    }
  }

  /** Sends what is pending now (called by the timer, and before the final update). */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.emitted >= this.text.length) {
      return;
    }
    const offset = this.emitted;
    const delta = this.text.slice(offset);
    this.emitted = this.text.length;
    this.lastEmit = performance.now();
    this.broadcaster.toRoom(this.roomId, 'message:delta', {
      roomId: this.roomId,
      messageId: this.message.id,
      offset,
      delta,
    });
  }
}
