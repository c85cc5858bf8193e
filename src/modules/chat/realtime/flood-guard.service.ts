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
 * window (for flooding, or for malformed payloads) is disconnected, and its user's new connections are refused here until the window ends. Refusing costs
 * no store call once a user is known to be over: the rest of a flood is answered from this instance's memory.
 */
@Injectable()
export class FloodGuard {
  private readonly budgets = new Map<string, SocketBudget>();
  /** user → until when this instance refuses them without asking the shared store (they are over, or were cut off). */
  private readonly blockedUsers = new Map<string, number>();

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
    const userId = socket.data.user.id;
    const blockedFor = this.blockedFor(userId);
    if (blockedFor > 0) {
      budget.refusals += 1;
      throw AppException.rateLimited(blockedFor);
    }
    const rate = await this.rateLimiter.consume('events', userId, this.config.rates.eventsPer10s, WINDOW_MS);
    if (!rate.allowed) {
      budget.refusals += 1;
      // The rest of this user's flood is refused here, without a store call per event.
      this.block(userId, rate.retryAfterMs);
      throw AppException.rateLimited(rate.retryAfterMs);
    }
  }

  /** How long the user is refused still (0: not refused); a user cut off for flooding may not reconnect before. */
  blockedFor(userId: string): number {
    const until = this.blockedUsers.get(userId);
    if (until === undefined) {
      return 0;
    }
    const left = until - Date.now();
    if (left <= 0) {
      this.blockedUsers.delete(userId);
      return 0;
    }
    return left;
  }

  /** The socket is cut off for flooding: its user waits out the window before any socket of theirs is served here. */
  cutOff(socket: FloodSubject): void {
    this.block(socket.data.user.id, WINDOW_MS);
  }

  /** An event of the socket was refused as malformed: a client that works never sends them in bulk. */
  malformed(socketId: string): void {
    this.budgetOf(socketId).refusals += 1;
  }

  /** True once the socket went on flooding after being told: it is to be disconnected. */
  exhausted(socketId: string): boolean {
    return (this.budgets.get(socketId)?.refusals ?? 0) >= this.config.rates.floodDisconnectAfter;
  }

  /** The socket is gone. */
  forget(socketId: string): void {
    this.budgets.delete(socketId);
  }

  private block(userId: string, ms: number): void {
    if (this.blockedUsers.size >= 100_000) {
      const now = Date.now();
      this.blockedUsers.forEach((until, id) => until <= now && this.blockedUsers.delete(id));
    }
    this.blockedUsers.set(userId, Math.max(this.blockedUsers.get(userId) ?? 0, Date.now() + ms));
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
