import { beforeDeadline } from '../../common/async/before-deadline';
import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../../config/app-config';
import { REDIS, type RedisConnections } from '../cluster/cluster.tokens';
import type { KeepDelta } from './live-reply';

const KEY_PREFIX = 'chat:ai:partial:';
/** How long a reply's text so far outlives its last delta (at least): a stall longer than this has ended it. */
const MIN_TTL_MS = 60_000;
/** The longest a delta waits for Redis before it is sent anyway (a slow Redis must not hold a reply back). */
const KEEP_WAIT_MS = 250;

/**
 * The text so far of the replies streaming on any instance, in Redis (`chat:ai:partial:<messageId>`, a short TTL
 * renewed by each delta, deleted at the end), so that a `room:join` on any instance reads it without asking the
 * instance that writes it. Without Redis there is one instance, whose live replies hold their own text.
 */
@Injectable()
export class PartialReplies {
  private readonly ttlMs: number;

  constructor(
    @Inject(REDIS) private readonly redis: RedisConnections | null,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.ttlMs = Math.max(MIN_TTL_MS, 2 * config.ai.stallTimeoutMs);
  }

  /** What a reply's deltas are kept with; undefined without Redis. */
  keeper(messageId: string): KeepDelta | undefined {
    const redis = this.redis;
    if (!redis) {
      return undefined;
    }
    const key = KEY_PREFIX + messageId;
    return (delta) =>
      bounded(
        redis.commands
          .multi()
          .append(key, delta)
          .pexpire(key, this.ttlMs)
          .exec()
          .then(() => undefined),
      );
  }

  /** The text so far of a reply streaming on some instance; undefined when none is known (or Redis is away). */
  async read(messageId: string): Promise<string | undefined> {
    if (!this.redis?.up) {
      return undefined;
    }
    try {
      return (await this.redis.commands.get(KEY_PREFIX + messageId)) ?? undefined;
    } catch {
      return undefined;
    }
  }

  /** Forgets a reply's text once the reply has ended (its final text is stored). */
  async remove(messageId: string): Promise<void> {
    await this.redis?.commands.del(KEY_PREFIX + messageId).catch(() => undefined);
  }
}

/** Settles when `work` does or after KEEP_WAIT_MS, whichever is first; never rejects. */
function bounded(work: Promise<void>): Promise<void> {
  return beforeDeadline(
    work.catch(() => undefined),
    KEEP_WAIT_MS,
    () => undefined,
  );
}
