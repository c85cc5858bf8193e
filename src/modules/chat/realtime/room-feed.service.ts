import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import type { Namespace } from 'socket.io';
import type { FeedEvent, RoomEvents } from '../../../common/realtime/server-events';
import { APP_CONFIG, type AppConfig } from '../../../config/app-config';
import { INSTANCE_ID, REDIS, type RedisConnections } from '../../cluster/cluster.tokens';
import { InstanceRegistry } from '../../cluster/instance-registry.service';
import { StreamChannel } from '../../cluster/stream-channel';
import { RoomFeedRepository } from './room-feed.repository';
import { RoomOrder, type FeedItem } from './room-order';
import { blockersChannel, roomChannel, roomIdOf, userChannel } from './socket-rooms';
import type { MessageDto } from '../../../common/messages/message';
import { withheldView } from '../../../common/messages/withheld';

/** The Redis stream every instance reads the room feeds from. */
export const FEED_STREAM = 'chat:feed';
/** Entries kept in the stream (about): enough for a reader away for a short blip to resume. */
const FEED_MAX_LEN = 50_000;

/**
 * The events that carry a room's messages (`message:new`, `message:delta`, `message:updated`, and
 * `typing`, which keeps its place among them), from
 * whichever instance stored them to the sockets of every instance, in seq order and each once. The
 * ordering is done where events are received (RoomOrder); with Redis, instances exchange the feed through
 * an app-owned stream; without, the feed stays in this process. After Redis comes back, or when another
 * instance dies, each instance re-reads the last seq of the rooms it serves and emits the missing tail.
 */
@Injectable()
export class RoomFeed implements OnApplicationBootstrap, OnApplicationShutdown {
  private namespace?: Namespace;
  private readonly order: RoomOrder;
  private channel?: StreamChannel<FeedItem>;

  constructor(
    @InjectPinoLogger(RoomFeed.name) private readonly logger: PinoLogger,
    @Inject(APP_CONFIG) config: AppConfig,
    @Inject(INSTANCE_ID) private readonly instanceId: string,
    @Inject(REDIS) private readonly redis: RedisConnections | null,
    private readonly registry: InstanceRegistry,
    private readonly repository: RoomFeedRepository,
  ) {
    this.order = new RoomOrder(
      (item) => this.emitLocally(item),
      (roomId, after, before) => this.repository.between(roomId, after, before),
      config.cluster.orderWaitMs,
      (roomId, error) => this.logger.warn({ err: error, roomId }, 'missing messages could not be read'),
    );
  }

  attach(namespace: Namespace): void {
    this.namespace = namespace;
    // A room with no subscriber left here needs no order here.
    namespace.adapter.on('delete-room', (channel: string) => {
      const roomId = roomIdOf(channel);
      if (roomId) {
        this.order.untrack(roomId);
      }
    });
  }

  async onApplicationBootstrap(): Promise<void> {
    const redis = this.redis;
    if (!redis) {
      return;
    }
    // This instance's own items were delivered here when published; the channel hands back the others'.
    this.channel = new StreamChannel<FeedItem>(redis, this.instanceId, FEED_STREAM, FEED_MAX_LEN, this.logger);
    await this.channel.start((item) => this.order.deliver(item));
    redis.onReconnect(() => void this.resync('redis reconnected'));
    this.registry.onGone((instanceId) => this.resync(`instance ${instanceId} gone`));
  }

  onApplicationShutdown(): void {
    this.channel?.stop();
  }

  /** A join begins: the room's events are kept from now on, until its last seq is read (`track`). */
  watch(roomId: string): void {
    this.order.watch(roomId);
  }

  /** Before a socket subscribes: the room's subscribers here hold every seq up to `lastSeq` (or read it). */
  track(roomId: string, lastSeq: number): void {
    this.order.track(roomId, lastSeq);
  }

  /** A join failed before its room was read: stop keeping the room's events unless a socket here is in it. */
  abandon(roomId: string): void {
    if (this.order.pending(roomId) && !this.namespace?.adapter.rooms.has(roomChannel(roomId))) {
      this.order.untrack(roomId);
    }
  }

  /** Emits an item to this instance's subscribers (in order) and to every other instance's. */
  publish<E extends FeedEvent>(item: FeedItem<E>): void {
    this.order.deliver(item);
    this.channel?.publish(item);
  }

  /** Emits what every room served here is missing up to its stored last seq. */
  async resync(reason: string): Promise<void> {
    const tracked = this.order.tracked();
    if (tracked.size === 0) {
      return;
    }
    try {
      const stored = await this.repository.lastSeqs([...tracked.keys()]);
      const behind = [...stored].filter(([roomId, last]) => last > (tracked.get(roomId) ?? last));
      this.logger.info({ reason, rooms: tracked.size, behind: behind.length }, 'room feeds re-read');
      await Promise.all(behind.map(([roomId, last]) => this.order.catchUp(roomId, last)));
    } catch (error) {
      this.logger.warn({ err: error, reason }, 'room feeds could not be re-read');
    }
  }

  /**
   * To this instance's subscribers of the room. The sockets of people who blocked the item's author (their
   * channel holds them) get a message as a placeholder and its typing not at all; everyone else gets it as it is.
   */
  private emitLocally(item: FeedItem): void {
    const namespace = this.namespace;
    if (!namespace) {
      return;
    }
    const channel = roomChannel(item.roomId);
    const except = item.except ? [userChannel(item.except)] : [];
    const author = authorOf(item);
    const blockers = author ? blockersChannel(author) : undefined;
    const blocking = blockers ? namespace.adapter.rooms.get(blockers) : undefined;
    if (!blockers || !blocking || blocking.size === 0) {
      namespace.local.to(channel).except(except).emit(item.event, item.payload);
      return;
    }
    namespace.local
      .to(channel)
      .except([...except, blockers])
      .emit(item.event, item.payload);
    const subscribed = namespace.adapter.rooms.get(channel);
    const placeholder = blockedView(item);
    const sockets = [...blocking].filter((id) => subscribed?.has(id));
    if (placeholder && sockets.length > 0) {
      namespace.local.to(sockets).emit(item.event, placeholder);
    }
  }
}

/** Whose item it is, for blocking: a message's sender, a typer. */
function authorOf(item: FeedItem): string | null {
  switch (item.event) {
    case 'message:new':
    case 'message:updated':
      return (item.payload as RoomEvents['message:new']).message.senderId;
    case 'typing':
      return (item.payload as RoomEvents['typing']).profileId;
    case 'message:delta':
      return null;
  }
}

/** The payload a person who blocked its author gets: a message as a placeholder; nothing else. */
function blockedView(item: FeedItem): RoomEvents['message:new'] | undefined {
  if (item.event !== 'message:new' && item.event !== 'message:updated') {
    return undefined;
  }
  const { message } = item.payload as { message: MessageDto };
  return { message: message.deletedAt ? message : withheldView(message, 'blocked') };
}
