import { Global, Inject, Injectable, Module, type OnApplicationShutdown } from '@nestjs/common';
import { PinoLogger } from 'nestjs-pino';
import { randomUUID } from 'node:crypto';
import { APP_CONFIG, type AppConfig } from '../../config/app-config';
import { INSTANCE_ID, REDIS } from './cluster.tokens';
import { InstanceRegistry } from './instance-registry.service';
import { RedisConnections } from './redis-connections';

@Injectable()
class RedisCloser implements OnApplicationShutdown {
  constructor(@Inject(REDIS) private readonly redis: RedisConnections | null) {}

  /** After everything that uses Redis has stopped (Nest calls shutdown hooks after the HTTP server closed). */
  async onApplicationShutdown(): Promise<void> {
    await this.redis?.close();
  }
}

/**
 * Several instances (REDIS_URL): the Redis connections and the registry of live instances. Global, like
 * persistence: chat and AI state stores pick their Redis implementation from `REDIS`.
 */
@Global()
@Module({
  providers: [
    { provide: INSTANCE_ID, useFactory: () => randomUUID() },
    {
      provide: REDIS,
      inject: [APP_CONFIG, INSTANCE_ID, PinoLogger],
      useFactory: async (config: AppConfig, instanceId: string, logger: PinoLogger) => {
        if (!config.redisUrl) {
          return null;
        }
        logger.setContext('Redis');
        const redis = new RedisConnections(config.redisUrl, instanceId);
        const up = await redis.ready();
        if (up) {
          logger.info({ instanceId }, 'redis ready');
        } else {
          logger.warn({ instanceId }, 'redis unreachable: starting degraded (this instance serves; fan-out waits)');
        }
        return redis;
      },
    },
    InstanceRegistry,
    RedisCloser,
  ],
  exports: [INSTANCE_ID, REDIS, InstanceRegistry],
})
export class ClusterModule {}
