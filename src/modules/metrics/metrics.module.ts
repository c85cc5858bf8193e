import { Inject, Module, type MiddlewareConsumer, type NestModule, type OnModuleInit } from '@nestjs/common';
import { REDIS, type RedisConnections } from '../cluster/cluster.tokens';
import { DATABASE_PING_TIMEOUT_MS } from '../health/database.health';
import { DATABASE, type Database } from '../persistence/database.port';
import { HttpMetricsMiddleware } from './http-metrics.middleware';
import { MetricsController } from './metrics.controller';
import { MetricsService } from './metrics.service';
import { watchPool } from './pool-metrics';

@Module({
  controllers: [MetricsController],
  providers: [MetricsService],
  exports: [MetricsService],
})
export class MetricsModule implements NestModule, OnModuleInit {
  constructor(
    private readonly metrics: MetricsService,
    @Inject(DATABASE) private readonly db: Database,
    @Inject(REDIS) private readonly redis: RedisConnections | null,
  ) {}

  onModuleInit(): void {
    const acquire = watchPool(this.metrics.registry, this.db);
    this.db.observe(
      (fn, durationMs, outcome) => this.metrics.databaseCalls.observe({ function: fn, outcome }, durationMs / 1000),
      (fn, size) => this.metrics.databaseGroups.observe({ function: fn }, size),
      (durationMs) => acquire.observe(durationMs / 1000),
    );
    // The same question readiness asks, so an alert and the load balancer agree on when the database is down.
    this.metrics.watchDependency('database', () => this.db.ping(DATABASE_PING_TIMEOUT_MS).then(() => true));
    const redis = this.redis;
    if (redis) {
      // Down here means degraded, as readiness reports it: this instance serves its own sockets, fan-out waits.
      this.metrics.watchDependency('redis', () => Promise.resolve(redis.up));
    }
  }

  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(HttpMetricsMiddleware).forRoutes('*path');
  }
}
