import { Inject, Module, type MiddlewareConsumer, type NestModule, type OnModuleInit } from '@nestjs/common';
import { DATABASE, type Database } from '../persistence/database.port';
import { HttpMetricsMiddleware } from './http-metrics.middleware';
import { MetricsController } from './metrics.controller';
import { MetricsService } from './metrics.service';

@Module({
  controllers: [MetricsController],
  providers: [MetricsService],
  exports: [MetricsService],
})
export class MetricsModule implements NestModule, OnModuleInit {
  constructor(
    private readonly metrics: MetricsService,
    @Inject(DATABASE) private readonly db: Database,
  ) {}

  onModuleInit(): void {
    this.db.observe(
      (fn, durationMs, outcome) => this.metrics.databaseCalls.observe({ function: fn, outcome }, durationMs / 1000),
      (fn, size) => this.metrics.databaseGroups.observe({ function: fn }, size),
    );
  }

  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(HttpMetricsMiddleware).forRoutes('*path');
  }
}
