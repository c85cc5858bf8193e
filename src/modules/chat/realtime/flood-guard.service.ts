import { Inject, Injectable } from '@nestjs/common';
import { AppException } from '../../../common/errors/app.exception';
import { RateLimiter } from '../../../common/rate-limit/rate-limiter.service';
import { APP_CONFIG, type AppConfig } from '../../../config/app-config';

const WINDOW_MS = 10_000;

/** What the guard needs of a socket. */
export interface FloodSubject {
  readonly id: string;
  readonly data: { user: { id: string } };
}

interface SocketBudget {
  windowStart: number;
  events: number;
  refusals: number;
}

/**
 * The flood budget of every socket event, checked before any other work (validation, database): per socket
 * (RATE_SOCKET_EVENTS_PER_10S, counted here) and per user across their sockets and instances
 * (RATE_EVENTS_PER_10S, in the shared rate-limit store). It is far above what a person does — a
 * reconnecting client re-joins all its rooms at once within it — and separate from the send and typing
 * limits, which still answer as before inside it. A socket refused FLOOD_DISCONNECT_AFTER times in one
 * window is disconnected.
 */
@Injectable()
export class FloodGuard {
  private readonly budgets = new Map<string, SocketBudget>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly rateLimiter: RateLimiter,
  ) {}

  /** Throws RATE_LIMITED (with retryAfterMs) when the socket or its user is over the flood budget. */
  async admit(socket: FloodSubject): Promise<void> {
    const budget = this.budgetOf(socket.id);
    budget.events += 1;
    if (budget.events > this.config.rates.socketEventsPer10s) {
      budget.refusals += 1;
      throw AppException.rateLimited(Math.max(1, budget.windowStart + WINDOW_MS - Date.now()));
    }
    const rate = await this.rateLimiter.consume(
      'events',
      socket.data.user.id,
      this.config.rates.eventsPer10s,
      WINDOW_MS,
    );
    if (!rate.allowed) {
      budget.refusals += 1;
      throw AppException.rateLimited(rate.retryAfterMs);
    }
  }

  /** True once the socket went on flooding after being told: it is to be disconnected. */
  exhausted(socketId: string): boolean {
    return (this.budgets.get(socketId)?.refusals ?? 0) >= this.config.rates.floodDisconnectAfter;
  }

  /** The socket is gone. */
  forget(socketId: string): void {
    this.budgets.delete(socketId);
  }

  private budgetOf(socketId: string): SocketBudget {
    const now = Date.now();
    let budget = this.budgets.get(socketId);
    if (!budget || now - budget.windowStart >= WINDOW_MS) {
      budget = { windowStart: now, events: 0, refusals: 0 };
      this.budgets.set(socketId, budget);
    }
    return budget;
  }
}
