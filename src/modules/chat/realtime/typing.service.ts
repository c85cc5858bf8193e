import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { REALTIME_BROADCASTER, type RealtimeBroadcaster } from '../../../common/realtime/realtime-broadcaster';
import { APP_CONFIG, type AppConfig } from '../../../config/app-config';
import { INSTANCE_ID, REDIS, type RedisConnections } from '../../cluster/cluster.tokens';
import { LocalTypingStore, RedisTypingStore, type TypingStore } from './typing.store';

export const TYPING_IDLE_MS = 5000;

/**
 * Typing is the server's state of a member in a room, on every instance: set by `typing:update`, cleared by
 * the server itself after 5 s without an update, or when the typer sends, leaves or goes offline everywhere,
 * so no indicator sticks. The instance that got the last update owns the idle timer; while Redis is away,
 * each instance keeps its own.
 */
@Injectable()
export class TypingService implements OnModuleDestroy {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly store: TypingStore;
  private readonly local = new LocalTypingStore();

  constructor(
    @InjectPinoLogger(TypingService.name) private readonly logger: PinoLogger,
    @Inject(APP_CONFIG) config: AppConfig,
    @Inject(REDIS) redis: RedisConnections | null,
    @Inject(INSTANCE_ID) instanceId: string,
    @Inject(REALTIME_BROADCASTER) private readonly broadcaster: RealtimeBroadcaster,
  ) {
    this.store = redis
      ? new RedisTypingStore(redis, instanceId, TYPING_IDLE_MS + config.cluster.instanceTtlMs * 2)
      : this.local;
  }

  async update(roomId: string, profileId: string, isTyping: boolean): Promise<void> {
    if (!isTyping) {
      return this.stop(roomId, profileId);
    }
    const key = `${roomId}:${profileId}`;
    const timer = this.timers.get(key);
    if (timer) {
      timer.refresh();
    } else {
      const idle = setTimeout(() => void this.idle(roomId, profileId), TYPING_IDLE_MS);
      idle.unref();
      this.timers.set(key, idle);
    }
    if (await this.ask((s) => s.start(roomId, profileId))) {
      this.emit(roomId, profileId, true);
    }
  }

  /** Ends a member's typing in a room if it is on (sent, left, removed, offline); silent otherwise. */
  async stop(roomId: string, profileId: string): Promise<void> {
    this.clearTimer(roomId, profileId);
    if (await this.ask((s) => s.stop(roomId, profileId))) {
      this.emit(roomId, profileId, false);
    }
  }

  /** Ends a member's typing in every room (their last socket anywhere went away). */
  async stopAll(profileId: string): Promise<void> {
    const rooms = await this.ask((s) => s.roomsOf(profileId));
    await Promise.all(rooms.map((roomId) => this.stop(roomId, profileId)));
  }

  /** A gone instance owned these typings: nobody's timer will end them, so they end now. */
  async reap(instanceId: string): Promise<void> {
    for (const [roomId, profileId] of await this.store.takeOver(instanceId)) {
      this.emit(roomId, profileId, false);
    }
  }

  onModuleDestroy(): void {
    this.timers.forEach((timer) => clearTimeout(timer));
    this.timers.clear();
  }

  private async idle(roomId: string, profileId: string): Promise<void> {
    this.timers.delete(`${roomId}:${profileId}`);
    if (await this.ask((s) => s.expire(roomId, profileId))) {
      this.emit(roomId, profileId, false);
    }
  }

  private clearTimer(roomId: string, profileId: string): void {
    const key = `${roomId}:${profileId}`;
    clearTimeout(this.timers.get(key));
    this.timers.delete(key);
  }

  private async ask<T>(question: (store: TypingStore) => Promise<T>): Promise<T> {
    try {
      return await question(this.store);
    } catch (error) {
      this.logger.warn({ err: error }, 'typing store unreachable: answering from this instance');
      return question(this.local);
    }
  }

  private emit(roomId: string, profileId: string, isTyping: boolean): void {
    // Never back to the typer's own sockets.
    this.broadcaster.toRoom(roomId, 'typing', { roomId, profileId, isTyping }, profileId);
  }
}
