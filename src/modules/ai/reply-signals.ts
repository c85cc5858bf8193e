import { Inject, Injectable } from '@nestjs/common';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { INSTANCE_ID, REDIS, type RedisConnections } from '../cluster/cluster.tokens';

/** `{ roomId, messageId }`: whoever generates that reply stops it; `{ roomId }` alone: every reply of the room. */
const STOP_CHANNEL = 'chat:ai:stop';
/** An instance's id: a job was queued that it could not take (it is at capacity or closing); others may. */
const WAKE_CHANNEL = 'chat:ai:wake';

export interface SignalHandlers {
  /** Stops the reply (every reply of the room, without `messageId`) if this instance generates it. */
  stop(roomId: string, messageId?: string): void;
  /** A job may be waiting: claim. */
  wake(): void;
}

/**
 * What instances tell each other about replies, over Redis pub/sub: `ai:stop` for a reply another instance
 * generates, and a wake-up when a job was queued that its instance could not take. At most once: a message
 * lost while Redis is away is made up for by the lease (a stop) and the poll (a job). Without Redis, nothing.
 */
@Injectable()
export class ReplySignals {
  constructor(
    @Inject(REDIS) private readonly redis: RedisConnections | null,
    @Inject(INSTANCE_ID) private readonly instanceId: string,
    @InjectPinoLogger(ReplySignals.name) private readonly logger: PinoLogger,
  ) {}

  /** Subscribes (in the background: a start never waits for Redis); the connection closes with the others. */
  listen(handlers: SignalHandlers): void {
    if (!this.redis) {
      return;
    }
    const subscriber = this.redis.reader('ai-signals');
    subscriber.on('message', (channel: string, text: string) => {
      try {
        if (channel === STOP_CHANNEL) {
          const { roomId, messageId } = JSON.parse(text) as { roomId: string; messageId?: string };
          handlers.stop(roomId, messageId);
        } else if (channel === WAKE_CHANNEL && text !== this.instanceId) {
          handlers.wake();
        }
      } catch (error) {
        this.logger.warn({ err: error, channel }, 'AI signal not handled');
      }
    });
    subscriber
      .subscribe(STOP_CHANNEL, WAKE_CHANNEL)
      .catch((error: unknown) => this.logger.warn({ err: error }, 'AI signals: subscribe failed'));
  }

  /** Asks every instance to stop the reply, or all of the room's (the one that generates it does). In the background. */
  stop(roomId: string, messageId?: string): void {
    this.publish(STOP_CHANNEL, JSON.stringify({ roomId, messageId }));
  }

  /** Tells the other instances that a job is waiting. Sent in the background. */
  wake(): void {
    this.publish(WAKE_CHANNEL, this.instanceId);
  }

  /** The publisher queues while Redis is away: nobody waits for it. */
  private publish(channel: string, text: string): void {
    this.redis?.publisher
      .publish(channel, text)
      .catch((error: unknown) => this.logger.warn({ err: error, channel }, 'AI signal not sent'));
  }
}
