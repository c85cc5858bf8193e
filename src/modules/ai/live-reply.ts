import type { RealtimeBroadcaster } from '../../common/realtime/realtime-broadcaster';
import type { MessageDto } from '../../common/messages/message';

/** At most one `message:delta` per message in this many milliseconds. */
export const DELTA_INTERVAL_MS = 30;

/**
 * Why a reply stopped before its end: `ai:stop`, the server shutting down, or its job taken over by another
 * instance (this one was taken for gone: its lease ran out).
 */
export type StopReason = 'cancelled' | 'shutdown' | 'lost';

/** Keeps a delta where other instances read the text so far; resolves once it is kept (or could not be). */
export type KeepDelta = (delta: string) => Promise<void>;

/**
 * A reply while it streams: the text so far, the deltas already sent (coalesced), and the switch that
 * stops it. A late joiner is given exactly the text the deltas have carried, so the next delta's
 * offset is the length of what it holds. With `keep` (several instances), each delta is first kept for
 * the joiners of other instances, then sent, so what they read never holds less than the deltas sent.
 * One delta is kept at a time: text that arrives meanwhile goes out as the next delta, so a slow Redis
 * makes deltas larger, never a queue of them.
 */
export class LiveReply {
  readonly controller = new AbortController();
  stopReason?: StopReason;
  private text = '';
  private emitted = 0;
  private sent = 0;
  private lastEmit = 0;
  private timer?: NodeJS.Timeout;
  /** The delta being kept, until it is sent. */
  private keeping?: Promise<void>;

  constructor(
    readonly message: MessageDto,
    private readonly broadcaster: RealtimeBroadcaster,
    private readonly keep?: KeepDelta,
  ) {}

  get roomId(): string {
    return this.message.roomId;
  }

  get content(): string {
    return this.text;
  }

  /** What clients have been sent so far. */
  get visible(): string {
    return this.text.slice(0, this.sent);
  }

  stop(reason: StopReason): void {
    this.stopReason ??= reason;
    this.controller.abort(reason);
  }

  append(text: string): void {
    // No Postgres text holds a NUL; a provider's stray one is dropped rather than failing the store.
    this.text += text.replaceAll('\u0000', '');
    this.schedule();
  }

  /** Sends what is pending now (called by the timer, and by `settle`); nothing while a delta is being kept. */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.keeping || this.emitted >= this.text.length) {
      return;
    }
    const offset = this.emitted;
    const delta = this.text.slice(offset);
    this.emitted = this.text.length;
    this.lastEmit = performance.now();
    if (!this.keep) {
      this.send(offset, delta);
      return;
    }
    this.keeping = this.keep(delta)
      .catch(() => undefined)
      .then(() => {
        this.keeping = undefined;
        this.send(offset, delta);
        this.schedule();
      });
  }

  /** Sends what is pending and resolves once every delta has gone out (before the final update). */
  async settle(): Promise<void> {
    this.flush();
    while (this.keeping) {
      await this.keeping;
      this.flush();
    }
  }

  /** The next delta within DELTA_INTERVAL_MS of the last, or once the one being kept has been sent. */
  private schedule(): void {
    if (this.timer || this.keeping || this.emitted >= this.text.length) {
      return;
    }
    const wait = this.lastEmit + DELTA_INTERVAL_MS - performance.now();
    if (wait <= 0) {
      this.flush();
    } else {
      this.timer = setTimeout(() => this.flush(), wait);
    }
  }

  private send(offset: number, delta: string): void {
    this.sent = offset + delta.length;
    this.broadcaster.toRoom(this.roomId, 'message:delta', {
      roomId: this.roomId,
      messageId: this.message.id,
      offset,
      delta,
    });
  }
}
