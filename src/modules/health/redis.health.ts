import { Inject, Injectable } from '@nestjs/common';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import { REDIS, type RedisConnections } from '../cluster/cluster.tokens';

/**
 * Redis, where configured, as readiness reports it: never `down`. A Redis outage must not take every
 * instance out of the load balancer at once: each keeps serving its own sockets (sends, history, AI) and
 * reports `degraded`, and fan-out to the other instances resumes, with the missing tail, when Redis is back.
 */
@Injectable()
export class RedisHealthIndicator {
  constructor(
    @Inject(REDIS) private readonly redis: RedisConnections | null,
    private readonly indicators: HealthIndicatorService,
  ) {}

  get configured(): boolean {
    return this.redis !== null;
  }

  check(key = 'redis'): HealthIndicatorResult {
    const indicator = this.indicators.check(key);
    if (this.redis?.up) {
      return indicator.up({ state: 'connected' });
    }
    return indicator.up({
      state: 'degraded',
      message:
        'Redis is unreachable: this instance serves its own sockets; other instances hear of it when Redis is back',
    });
  }
}
