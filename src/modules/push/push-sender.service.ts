import { Inject, Injectable, type BeforeApplicationShutdown } from '@nestjs/common';
import { ExponentialBackoff, handleWhen, retry, type RetryPolicy } from 'cockatiel';
import type { ExpoPushReceipt, ExpoPushTicket } from 'expo-server-sdk';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { beforeDeadline } from '../../common/async/before-deadline';
import { APP_CONFIG, type AppConfig } from '../../config/app-config';
import { MetricsService } from '../metrics/metrics.service';
import { DevicesRepository } from './devices.repository';
import { ExpoPushClient, isRetryable, type PushMessage } from './expo-push.client';

/** Notifications waiting for the next request beyond this many are dropped (the push service is far behind). */
export const MAX_QUEUED = 10_000;

/**
 * Sends notifications through the push service: what is queued within one turn of the event loop goes out together,
 * in the SDK's chunks, each request retried on 5xx, 429 and network errors up to PUSH_MAX_ATTEMPTS tries in all with
 * exponential back-off. Tickets are read at once and receipts PUSH_RECEIPT_DELAY_MS later: a DeviceNotRegistered in
 * either removes the token. Nothing here throws to a caller; failures are logged (never a token or any text) and
 * counted. At shutdown the requests under way finish before the push client and the database close.
 */
@Injectable()
export class PushSender implements BeforeApplicationShutdown {
  private queue: PushMessage[] = [];
  private flushing = false;
  private readonly policy: RetryPolicy;
  private readonly timers = new Set<NodeJS.Timeout>();
  /** The flush and the receipt checks under way. */
  private readonly running = new Set<Promise<void>>();
  /** Aborted at shutdown: no retry, flush or receipt check starts after it. */
  private readonly stopping = new AbortController();

  constructor(
    @InjectPinoLogger(PushSender.name) private readonly logger: PinoLogger,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly client: ExpoPushClient,
    private readonly devices: DevicesRepository,
    private readonly metrics: MetricsService,
  ) {
    const { maxAttempts, retryBaseMs } = config.push;
    this.policy = retry(handleWhen(isRetryable), {
      maxAttempts: maxAttempts - 1,
      backoff: new ExponentialBackoff({ initialDelay: retryBaseMs, maxDelay: retryBaseMs * 16 }),
    });
  }

  /** Queues the notifications; they go out right after the current turn of the event loop. */
  send(messages: PushMessage[]): void {
    const room = Math.max(0, MAX_QUEUED - this.queue.length);
    if (messages.length > room) {
      this.metrics.pushNotifications.inc({ outcome: 'dropped' }, messages.length - room);
      this.logger.warn({ dropped: messages.length - room }, 'push queue full: notifications dropped');
    }
    this.queue.push(...messages.slice(0, room));
    if (!this.flushing && this.queue.length > 0) {
      this.flushing = true;
      setImmediate(() => this.track(this.flush()));
    }
  }

  /**
   * Before the push client's agent and the database close (their onApplicationShutdown): nothing new starts, receipt
   * checks not yet due are dropped, and the work under way (one request each, no retry now) may end, its tickets
   * read and unregistered tokens removed, for at most PUSH_TIMEOUT_MS.
   */
  async beforeApplicationShutdown(): Promise<void> {
    this.stopping.abort();
    this.timers.forEach(clearTimeout);
    this.timers.clear();
    await beforeDeadline(Promise.allSettled([...this.running]), this.config.push.timeoutMs, () => undefined);
  }

  private get closed(): boolean {
    return this.stopping.signal.aborted;
  }

  private track(work: Promise<void>): void {
    this.running.add(work);
    work
      .catch((error: unknown) => this.logger.error({ err: describe(error) }, 'push work failed'))
      .finally(() => this.running.delete(work));
  }

  private async flush(): Promise<void> {
    try {
      while (this.queue.length > 0 && !this.closed) {
        const batch = this.queue;
        this.queue = [];
        await Promise.all(this.client.chunk(batch).map((chunk) => this.sendChunk(chunk)));
      }
    } finally {
      this.flushing = false;
    }
  }

  private async sendChunk(chunk: PushMessage[]): Promise<void> {
    let tickets: ExpoPushTicket[];
    try {
      tickets = await this.policy.execute(() => this.client.send(chunk), this.stopping.signal);
    } catch (error) {
      this.metrics.pushNotifications.inc({ outcome: 'failed' }, chunk.length);
      this.logger.warn({ err: describe(error), notifications: chunk.length }, 'push request failed');
      return;
    }
    const receipts = new Map<string, string>();
    const unregistered: string[] = [];
    tickets.forEach((ticket, i) => {
      if (ticket.status === 'ok') {
        this.metrics.pushNotifications.inc({ outcome: 'sent' });
        receipts.set(ticket.id, chunk[i].to);
      } else if (ticket.details?.error === 'DeviceNotRegistered') {
        this.metrics.pushNotifications.inc({ outcome: 'unregistered' });
        unregistered.push(chunk[i].to);
      } else {
        this.metrics.pushNotifications.inc({ outcome: 'failed' });
        this.logger.warn({ error: ticket.details?.error ?? 'unknown' }, 'push ticket refused');
      }
    });
    await this.forget(unregistered);
    if (receipts.size > 0 && !this.closed) {
      this.later(() => this.checkReceipts(receipts), this.config.push.receiptDelayMs);
    }
  }

  /** Receipts of tickets (ticket id → token): Expo's word on each delivery to Apple's or Google's service. */
  private async checkReceipts(tickets: Map<string, string>): Promise<void> {
    const unregistered: string[] = [];
    for (const ids of this.client.chunkReceiptIds([...tickets.keys()])) {
      let receipts: Record<string, ExpoPushReceipt>;
      try {
        receipts = await this.policy.execute(() => this.client.receipts(ids), this.stopping.signal);
      } catch (error) {
        this.logger.warn({ err: describe(error), receipts: ids.length }, 'push receipts not read');
        continue;
      }
      for (const [id, receipt] of Object.entries(receipts)) {
        const outcome = receipt.status === 'ok' ? 'ok' : (receipt.details?.error ?? 'unknown');
        this.metrics.pushReceipts.inc({ outcome });
        const token = tickets.get(id);
        if (outcome === 'DeviceNotRegistered' && token) {
          unregistered.push(token);
        }
      }
    }
    await this.forget(unregistered);
  }

  private async forget(tokens: string[]): Promise<void> {
    if (tokens.length === 0) {
      return;
    }
    try {
      await this.devices.removeTokens(tokens);
      this.logger.info({ devices: tokens.length }, 'devices no longer registered with the push service removed');
    } catch (error) {
      this.logger.warn({ err: describe(error) }, 'unregistered devices not removed');
    }
  }

  private later(work: () => Promise<void>, ms: number): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.track(work());
    }, ms);
    timer.unref();
    this.timers.add(timer);
  }
}

/** What a log line may say of a push failure: no request body (tokens, text), no headers (the access token). */
function describe(error: unknown): { message: string; statusCode?: number; code?: string } {
  const e = error as { message?: unknown; statusCode?: unknown; code?: unknown };
  return {
    message:
      typeof e.statusCode === 'number' || typeof e.message !== 'string'
        ? 'push service error'
        : e.message.slice(0, 200),
    statusCode: typeof e.statusCode === 'number' ? e.statusCode : undefined,
    code: typeof e.code === 'string' ? e.code : undefined,
  };
}
