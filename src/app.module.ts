import { type DynamicModule, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ThrottlerModule } from '@nestjs/throttler';
import { LoggerModule } from 'nestjs-pino';
import { loggerOptions } from './common/logging/logger-options';
import {
  AppThrottlerGuard,
  AUTH_THROTTLER,
  DEFAULT_THROTTLER,
  HTTP_RATE_WINDOW_MS,
} from './common/rate-limit/app-throttler.guard';
import type { AppConfig } from './config/app-config';
import { ConfigModule } from './config/config.module';
import { AuthModule } from './modules/auth/auth.module';
import { HttpAuthGuard } from './modules/auth/http-auth.guard';
import { ChatModule } from './modules/chat/chat.module';
import { ClusterModule } from './modules/cluster/cluster.module';
import { DataModule } from './modules/data/data.module';
import { REDIS, type RedisConnections } from './modules/cluster/cluster.tokens';
import { ResilientThrottlerStorage } from './modules/cluster/resilient-throttler.storage';
import { RealtimeModule } from './modules/chat/realtime/realtime.module';
import { CommonModule } from './common/common.module';
import { HealthModule } from './modules/health/health.module';
import { MetricsModule } from './modules/metrics/metrics.module';
import { PersistenceModule } from './modules/persistence/persistence.module';

/** The map of the system. Guards run in this order: who is calling, then how often. */
@Module({})
export class AppModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        LoggerModule.forRoot(loggerOptions(config)),
        ThrottlerModule.forRootAsync({
          inject: [REDIS],
          useFactory: (redis: RedisConnections | null) => ({
            throttlers: [
              {
                name: DEFAULT_THROTTLER,
                ttl: HTTP_RATE_WINDOW_MS,
                limit: config.rates.httpPerMinute,
                blockDuration: 0,
              },
              { name: AUTH_THROTTLER, ttl: HTTP_RATE_WINDOW_MS, limit: config.rates.authPerMinute, blockDuration: 0 },
            ],
            // Several instances count every limit together in Redis; one counts in memory.
            storage: redis ? new ResilientThrottlerStorage(redis) : undefined,
          }),
        }),
        CommonModule,
        PersistenceModule,
        ClusterModule,
        RealtimeModule,
        AuthModule,
        ChatModule,
        HealthModule,
        MetricsModule,
        DataModule,
      ],
      providers: [
        { provide: APP_GUARD, useExisting: HttpAuthGuard },
        { provide: APP_GUARD, useClass: AppThrottlerGuard },
      ],
    };
  }
}
