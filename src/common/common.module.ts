import { Global, Module } from '@nestjs/common';
import { RateLimiter } from './rate-limit/rate-limiter.service';

/** Shared services every feature may use: rate limits over the throttler's store. */
@Global()
@Module({ providers: [RateLimiter], exports: [RateLimiter] })
export class CommonModule {}
