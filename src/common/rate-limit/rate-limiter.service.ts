import { Inject, Injectable } from '@nestjs/common';
import { ThrottlerStorage } from '@nestjs/throttler';

export interface RateDecision {
  allowed: boolean;
  retryAfterMs: number;
}

/**
 * Sliding-window limits outside the HTTP guard (message sends over HTTP and sockets together, typing, AI).
 * It shares the throttler's storage, so one store holds every limit.
 */
@Injectable()
export class RateLimiter {
  constructor(@Inject(ThrottlerStorage) private readonly storage: ThrottlerStorage) {}

  async consume(bucket: string, subject: string, limit: number, windowMs: number): Promise<RateDecision> {
    const record = await this.storage.increment(`${bucket}:${subject}`, windowMs, limit, 0, bucket);
    return {
      allowed: !record.isBlocked,
      retryAfterMs: record.isBlocked ? Math.max(1, record.timeToBlockExpire) * 1000 : 0,
    };
  }
}
