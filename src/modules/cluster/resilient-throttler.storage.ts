import { ThrottlerStorageRedisService } from '@nest-lab/throttler-storage-redis';
import { ThrottlerStorageService, type ThrottlerStorage } from '@nestjs/throttler';
import type { RedisConnections } from './redis-connections';

type ThrottlerStorageRecord = Awaited<ReturnType<ThrottlerStorage['increment']>>;

/**
 * Rate limits counted across instances: every limit (HTTP, sends, typing, AI) is one counter in Redis
 * (`@nest-lab/throttler-storage-redis`: a window that starts at the first call), so a user with sockets on
 * two instances has the budget they would have on one. While Redis is away, each instance counts alone in
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
      // Redis cannot block for 0 ms; without a block, a caller over the limit waits for the window to end.
      const record = await this.shared.increment(key, ttl, limit, Math.max(blockDuration, 1), throttlerName);
      return blockDuration > 0 || !record.isBlocked
        ? record
        : { ...record, timeToBlockExpire: Math.max(record.timeToExpire, 1) };
    } catch {
      return this.local.increment(key, ttl, limit, blockDuration, throttlerName);
    }
  }
}
