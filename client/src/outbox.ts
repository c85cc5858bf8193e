import { ChatError } from './errors';
import { newClientId, timers, type TimerHandle } from './platform';
import type { Message } from './protocol';
import type { StorageAdapter } from './storage';

/** A message not yet acknowledged by the server. */
export interface OutboxEntry {
  /** The message's clientId: the same on every retry, so the server stores it once. */
  readonly clientId: string;
  readonly roomId: string;
  readonly content: string;
  readonly createdAt: string;
  /** `queued`: waiting its turn (or the connection); `sending`: on the wire; `failed`: refused, see `error`. */
  state: 'queued' | 'sending' | 'failed';
  attempts: number;
  /** The last refusal: final for `failed`; a `RATE_LIMITED` one while the outbox waits `retryAfterMs`. */
  error?: ChatError;
}

export interface OutboxEvents {
  /** The entries changed (queued, sending, failed, waiting). */
  change: readonly OutboxEntry[];
  /** The server stored the entry's message (or had stored it already: a retry). */
  sent: { entry: OutboxEntry; message: Message };
}

export interface OutboxOptions {
  storage: StorageAdapter;
  storageKey: string;
  /** Sends one entry; resolves with the stored message or rejects with a ChatError. */
  deliver(entry: OutboxEntry): Promise<Message>;
  /** Whether sending can be tried now (the socket is connected). */
  canSend(): boolean;
  notify<E extends keyof OutboxEvents>(event: E, payload: OutboxEvents[E]): void;
  /** Waits between retries of transient failures (not rate limits, which say how long): default 1 s, 2 s, … 30 s. */
  backoffMs?: (attempt: number) => number;
}

interface Persisted {
  clientId: string;
  roomId: string;
  content: string;
  createdAt: string;
  failed?: { code: ChatError['code']; message: string };
}

/**
 * The outbox: messages are sent one at a time in the order they were written, each with its clientId, and kept
 * (in the storage adapter too) until the server acknowledges them. A transient failure (disconnected, timeout,
 * unavailable) is retried with the same clientId, which the server never stores twice; `RATE_LIMITED` waits its
 * `retryAfterMs`; any other refusal marks that entry `failed` (the others go on) until `retry` or `discard`.
 */
export class Outbox {
  private entries: OutboxEntry[] = [];
  private running = false;
  private wait?: TimerHandle;
  private restoring?: Promise<void>;
  /** Set once the storage was read: before that nothing is written (it would overwrite what is there). */
  private ready = false;
  private writing: Promise<void> = Promise.resolve();

  constructor(private readonly options: OutboxOptions) {}

  get list(): readonly OutboxEntry[] {
    return this.entries;
  }

  /** Reads what a previous run left unsent (call once, before `flush`). */
  restore(): Promise<void> {
    this.restoring ??= this.read();
    return this.restoring;
  }

  private async read(): Promise<void> {
    const text = await this.options.storage.getItem(this.options.storageKey);
    const saved = text ? (JSON.parse(text) as Persisted[]) : [];
    const known = new Set(this.entries.map((entry) => entry.clientId));
    const restored = saved
      .filter((item) => !known.has(item.clientId))
      .map<OutboxEntry>((item) => ({
        clientId: item.clientId,
        roomId: item.roomId,
        content: item.content,
        createdAt: item.createdAt,
        state: item.failed ? 'failed' : 'queued',
        attempts: 0,
        error: item.failed ? new ChatError(item.failed.code, item.failed.message) : undefined,
      }));
    this.entries = [...restored, ...this.entries];
    this.ready = true;
    this.changed();
  }

  /** Queues a message and starts sending; returns its entry at once. */
  enqueue(roomId: string, content: string): OutboxEntry {
    const entry: OutboxEntry = {
      clientId: newClientId(),
      roomId,
      content,
      createdAt: new Date().toISOString(),
      state: 'queued',
      attempts: 0,
    };
    this.entries = [...this.entries, entry];
    this.changed();
    this.flush();
    return entry;
  }

  /** Sends a failed entry again (same clientId). */
  retry(clientId: string): void {
    const entry = this.entries.find((e) => e.clientId === clientId);
    if (entry?.state === 'failed') {
      entry.state = 'queued';
      entry.error = undefined;
      this.changed();
      this.flush();
    }
  }

  /** Drops an entry that is not on the wire. */
  discard(clientId: string): void {
    const before = this.entries.length;
    this.entries = this.entries.filter((e) => e.clientId !== clientId || e.state === 'sending');
    if (this.entries.length !== before) {
      this.changed();
    }
  }

  /** Sends what is queued, unless already sending or waiting; call it again when the connection is back. */
  flush(): void {
    if (this.running || this.wait !== undefined || !this.ready) {
      return;
    }
    this.running = true;
    void this.drain().finally(() => {
      this.running = false;
    });
  }

  /** Stops timers (the client is closed); the entries stay in storage. */
  stop(): void {
    if (this.wait !== undefined) {
      timers.clear(this.wait);
      this.wait = undefined;
    }
  }

  /** Resolves once the storage was read and every write to it so far is done. */
  async persisted(): Promise<void> {
    await this.restore();
    await this.writing;
  }

  private async drain(): Promise<void> {
    for (;;) {
      const entry = this.entries.find((e) => e.state === 'queued');
      if (!entry || !this.options.canSend()) {
        return;
      }
      entry.state = 'sending';
      entry.attempts++;
      this.changed();
      try {
        const message = await this.options.deliver(entry);
        this.entries = this.entries.filter((e) => e !== entry);
        this.changed();
        this.options.notify('sent', { entry, message });
      } catch (caught) {
        const error = caught instanceof ChatError ? caught : new ChatError('INTERNAL', String(caught));
        entry.error = error;
        if (!error.transient) {
          entry.state = 'failed';
          this.changed();
          continue;
        }
        entry.state = 'queued';
        this.changed();
        if (error.code === 'DISCONNECTED') {
          return; // flush() again on reconnect
        }
        const backoff = this.options.backoffMs ?? ((n: number) => Math.min(30_000, 1000 * 2 ** (n - 1)));
        const ms = error.code === 'RATE_LIMITED' ? (error.retryAfterMs ?? 1000) : backoff(entry.attempts);
        this.wait = timers.set(() => {
          this.wait = undefined;
          this.flush();
        }, ms);
        return;
      }
    }
  }

  private changed(): void {
    const snapshot: Persisted[] = this.entries.map((e) => ({
      clientId: e.clientId,
      roomId: e.roomId,
      content: e.content,
      createdAt: e.createdAt,
      ...(e.state === 'failed' && e.error ? { failed: { code: e.error.code, message: e.error.message } } : {}),
    }));
    const { storage, storageKey } = this.options;
    if (!this.ready) {
      this.entries = [...this.entries];
      this.options.notify('change', this.entries);
      return;
    }
    this.writing = this.writing
      .then(() =>
        snapshot.length ? storage.setItem(storageKey, JSON.stringify(snapshot)) : storage.removeItem(storageKey),
      )
      .catch(() => undefined);
    this.entries = [...this.entries];
    this.options.notify('change', this.entries);
  }
}
