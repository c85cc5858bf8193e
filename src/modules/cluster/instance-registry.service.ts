import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { APP_CONFIG, type AppConfig } from '../../config/app-config';
import { INSTANCE_ID, REDIS, type RedisConnections } from './cluster.tokens';

/** Sorted set of live instances: member = instance id, score = the time of its last heartbeat (ms). */
export const INSTANCES_KEY = 'chat:instances';

export type InstanceGoneHandler = (instanceId: string) => Promise<void> | void;

/**
 * Which instances are alive. Each instance writes a heartbeat into one sorted set; an instance whose last
 * heartbeat is older than CLUSTER_INSTANCE_TTL_MS is gone. Exactly one survivor reaps a gone instance (its
 * presence and typing end: `onReap`), and every survivor hears that it went (`onGone`: re-read what it may
 * have lost). Without Redis there is one instance, which never sees another go.
 */
@Injectable()
export class InstanceRegistry implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer?: NodeJS.Timeout;
  private known = new Set<string>();
  private readonly reapHandlers: InstanceGoneHandler[] = [];
  private readonly goneHandlers: InstanceGoneHandler[] = [];
  private readonly rejoinHandlers: InstanceGoneHandler[] = [];
  private beating?: Promise<void>;

  constructor(
    @Inject(INSTANCE_ID) readonly instanceId: string,
    @Inject(REDIS) private readonly redis: RedisConnections | null,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectPinoLogger(InstanceRegistry.name) private readonly logger: PinoLogger,
  ) {}

  /** The oldest heartbeat that still counts as alive. */
  get aliveSince(): number {
    return Date.now() - this.config.cluster.instanceTtlMs;
  }

  /** Called once per gone instance, on the one survivor that reaps it. */
  onReap(handler: InstanceGoneHandler): void {
    this.reapHandlers.push(handler);
  }

  /** Called on every survivor when an instance goes (cleanly or not). */
  onGone(handler: InstanceGoneHandler): void {
    this.goneHandlers.push(handler);
  }

  /**
   * Called when this instance finds itself reaped (Redis lost it, or it was away longer than the TTL): the
   * others have ended its state, so it writes its state again.
   */
  onRejoin(handler: () => Promise<void> | void): void {
    this.rejoinHandlers.push(handler);
  }

  async onApplicationBootstrap(): Promise<void> {
    if (!this.redis) {
      return;
    }
    await this.beat();
    this.timer = setInterval(() => {
      this.beating ??= this.beat().finally(() => (this.beating = undefined));
    }, this.config.cluster.heartbeatMs);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.beating;
    // Leaving cleanly: the others need not wait for the heartbeat to expire.
    await this.redis?.commands.zrem(INSTANCES_KEY, this.instanceId).catch(() => undefined);
  }

  private async beat(): Promise<void> {
    const redis = this.redis;
    if (!redis?.up) {
      return;
    }
    try {
      const cutoff = this.aliveSince;
      const [added, expired, alive] = (await redis.commands
        .multi()
        .zadd(INSTANCES_KEY, Date.now(), this.instanceId)
        .zrangebyscore(INSTANCES_KEY, '-inf', `(${cutoff}`)
        .zrangebyscore(INSTANCES_KEY, cutoff, '+inf')
        .exec()) as [[Error | null, number], [Error | null, string[]], [Error | null, string[]]];
      if (added[1] === 1 && this.known.size > 0) {
        this.logger.warn({ instanceId: this.instanceId }, 'this instance was taken for gone: writing its state again');
        await this.run(this.rejoinHandlers, this.instanceId);
      }
      for (const id of expired[1]) {
        // Whoever removes it reaps it: exactly one survivor.
        if ((await redis.commands.zrem(INSTANCES_KEY, id)) === 1) {
          this.logger.warn({ instanceId: id }, 'instance gone: ending its presence and typing');
          await this.run(this.reapHandlers, id);
        }
      }
      const now = new Set(alive[1]);
      for (const id of this.known) {
        if (!now.has(id)) {
          await this.run(this.goneHandlers, id);
        }
      }
      this.known = now;
    } catch (error) {
      this.logger.warn({ err: error }, 'instance heartbeat failed');
    }
  }

  private async run(handlers: InstanceGoneHandler[], id: string): Promise<void> {
    for (const handler of handlers) {
      try {
        await handler(id);
      } catch (error) {
        this.logger.error({ err: error, instanceId: id }, 'handling a gone instance failed');
      }
    }
  }
}
