import { ThrottlerStorageRedisService } from '@nest-lab/throttler-storage-redis';
import { ThrottlerStorageService, type ThrottlerStorage } from '@nestjs/throttler';
import type { RedisConnections } from './redis-connections';

type ThrottlerStorageRecord = Awaited<ReturnType<ThrottlerStorage['increment']>>;

/**
 * Rate limits counted across instances: every limit (HTTP, sends, typing, AI) is one counter in Redis
 * (`@nest-lab/throttler-storage-redis`: a window that starts at the first call; a caller over the limit waits
 * one window from then), so a user with sockets on two instances has the budget they would have on one. While Redis is away, each instance counts alone in
 * memory (Nest's sliding-window store) rather than refusing everyone or letting everyone through unlimited.
 */
export class ResilientThrottlerStorage implements ThrottlerStorage {
  private readonly shared: ThrottlerStorageRedisService;
  private readonly local = new ThrottlerStorageService();

  constructor(private readonly redis: RedisConnections) {
    this.shared = new ThrottlerStorageRedisService(redis.commands);
  }

  async increment(
    key: string,
    ttl: number,
    limit: number,
    blockDuration: number,
    throttlerName: string,
  ): Promise<ThrottlerStorageRecord> {
    if (!this.redis.up) {
      return this.local.increment(key, ttl, limit, blockDuration, throttlerName);
    }
    try {
      // Redis cannot block for 0 ms: a caller over the limit is blocked for one window (Nest's default block).
      return await this.shared.increment(key, ttl, limit, blockDuration > 0 ? blockDuration : ttl, throttlerName);
    } catch {
      return this.local.increment(key, ttl, limit, blockDuration, throttlerName);
    }
  }
}
