import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { PinoLogger } from 'nestjs-pino';
import { type Store, storage } from 'nestjs-pino/storage';
import type { Bindings, Logger } from 'pino';
import { ErrorCode } from '../../../common/errors/error-code';
import { toAppException } from '../../../common/errors/to-app-exception';
import { MetricsService } from '../../metrics/metrics.service';
import { FloodGuard, type FloodSubject } from './flood-guard.service';

export type Ack = { ok: true } & Record<string, unknown>;

/** The socket an event came from: whose it is, and the way to close it. */
export interface EventSocket extends FloodSubject {
  readonly connected?: boolean;
  disconnect(close?: boolean): unknown;
}
export interface ErrorAck {
  ok: false;
  error: { code: string; message: string; requestId: string; details?: unknown; retryAfterMs?: number };
}

/**
 * Runs one client event in its own logging context (a request id in every line it logs, like an
 * HTTP request), times it, counts it, and turns any failure into the ack error of PROTOCOL.md §2.
 * It never throws: a handler that threw would leave the client's callback unanswered.
 */
@Injectable()
export class SocketEventRunner {
  constructor(
    private readonly logger: PinoLogger,
    private readonly metrics: MetricsService,
    private readonly flood: FloodGuard,
  ) {
    logger.setContext('ChatGateway');
  }

  async run(event: string, socket: EventSocket, work: () => Promise<object>): Promise<Ack | ErrorAck> {
    const requestId = randomUUID();
    const started = performance.now();
    // Read before the event's context exists: inside it, PinoLogger's logger is the event's own (and would make it).
    const parent = this.logger.logger;
    const store = new EventLogStore(parent, { requestId, event, userId: socket.data.user.id });
    return storage.run(store, async () => {
      try {
        // The flood budget comes before anything else the event would cost (validation, the database).
        await this.flood.admit(socket);
        const result = await work();
        const durationMs = this.count(event, 'ok', started);
        if (parent.isLevelEnabled('debug')) {
          store.logger.debug({ durationMs }, 'event handled');
        }
        return { ok: true, ...result };
      } catch (error) {
        const { exception, unexpected } = toAppException(error);
        const durationMs = this.count(event, exception.code, started);
        const log = store.logger;
        if (unexpected) {
          log.error({ err: error, durationMs }, 'event failed');
        } else if (exception.code === ErrorCode.RATE_LIMITED) {
          // A flood's refusals are counted (metrics), not written out one line each: that would be its own flood.
          log.debug({ code: exception.code, durationMs }, 'event refused');
        } else {
          log.info({ code: exception.code, durationMs }, 'event refused');
        }
        if (exception.code === ErrorCode.VALIDATION_FAILED) {
          this.flood.malformed(socket.id);
        }
        if (this.flood.exhausted(socket.id) && socket.connected !== false) {
          log.warn({ socketId: socket.id }, 'socket disconnected for flooding');
          this.flood.cutOff(socket);
          // After this ack has gone out.
          setImmediate(() => socket.disconnect(true));
        }
        return {
          ok: false,
          error: {
            code: exception.code,
            message: exception.message,
            requestId,
            ...(exception.details ? { details: exception.details } : {}),
            ...(exception.retryAfterMs !== undefined ? { retryAfterMs: exception.retryAfterMs } : {}),
          },
        };
      }
    });
  }

  /** Counts the event and times it from its arrival to its ack; returns the time in whole milliseconds for the log. */
  private count(event: string, outcome: string, started: number): number {
    const seconds = (performance.now() - started) / 1000;
    this.metrics.socketEvents.inc({ event, outcome });
    this.metrics.socketEventDuration.observe({ event, outcome }, seconds);
    return Math.round(seconds * 1000);
  }
}

/**
 * An event's logging context, whose logger (with the event's request id, name and user) is made the first time
 * something logs: most events log nothing at the default level, and a child logger with redaction costs each of
 * them more than its rate limit. nestjs-pino reads `logger` (and `assign` replaces it) as on its own Store.
 */
class EventLogStore implements Store {
  responseLogger?: Logger;
  private made?: Logger;

  constructor(
    private readonly parent: Logger,
    private readonly bindings: Bindings,
  ) {}

  get logger(): Logger {
    return (this.made ??= this.parent.child(this.bindings));
  }

  set logger(logger: Logger) {
    this.made = logger;
  }
}
