import { Inject, Injectable } from '@nestjs/common';
import type { BroadcastOperator, Namespace } from 'socket.io';
import type { RealtimeBroadcaster } from '../../../common/realtime/realtime-broadcaster';
import type { RoomEvents, UserEvents } from '../../../common/realtime/server-events';
import { INSTANCE_ID, REDIS, type RedisConnections } from '../../cluster/cluster.tokens';
import { RoomFeed } from './room-feed.service';
import { instanceChannel, roomChannel, userChannel } from './socket-rooms';

/** The payloads are typed by the port's event maps; Socket.IO's own emit typing is not used here. */
type Target = BroadcastOperator<Record<string, (payload: unknown) => void>, unknown>;

/**
 * The RealtimeBroadcaster over Socket.IO rooms, on every instance. A room's message events and typing go
 * through the room feed (ordered by seq where they are received); every other event is emitted to this instance's
 * sockets at once and, with Redis, to the other instances' through the Socket.IO adapter (the Redis streams
 * adapter). The adapter itself would emit locally only after Redis took the message — late, and not at all
 * while Redis is away — so the remote emit excludes this instance's own channel. Every operation names
 * rooms, never iterates sockets.
 */
@Injectable()
export class SocketBroadcaster implements RealtimeBroadcaster {
  private namespace?: Namespace;
  private readonly self: string;

  constructor(
    private readonly feed: RoomFeed,
    @Inject(REDIS) private readonly redis: RedisConnections | null,
    @Inject(INSTANCE_ID) instanceId: string,
  ) {
    this.self = instanceChannel(instanceId);
  }

  /** Called by the gateway once its namespace exists. */
  attach(namespace: Namespace): void {
    this.namespace = namespace;
    this.feed.attach(namespace);
  }

  /** The channel of this instance's sockets (each joins it when it connects). */
  get instanceChannel(): string {
    return this.self;
  }

  toRoom<E extends keyof RoomEvents>(roomId: string, event: E, payload: RoomEvents[E], exceptProfileId?: string): void {
    if (event === 'message:delta' || event === 'message:updated' || event === 'typing') {
      const feedPayload = payload as RoomEvents['message:delta' | 'message:updated' | 'typing'];
      this.feed.publish({ roomId, event, payload: feedPayload, except: exceptProfileId });
      return;
    }
    const except = exceptProfileId ? [userChannel(exceptProfileId)] : [];
    this.everywhere(roomChannel(roomId), except, (target) => target.emit(event, payload));
  }

  toRoomInOrder(roomId: string, seq: number, event: 'message:new', payload: RoomEvents['message:new']): void {
    this.feed.publish({ roomId, event, payload, seq });
  }

  toUser<E extends keyof UserEvents>(profileId: string, event: E, payload: UserEvents[E]): void {
    this.everywhere(userChannel(profileId), [], (target) => target.emit(event, payload));
  }

  unsubscribeMember(roomId: string, profileId: string): Promise<void> {
    this.everywhere(userChannel(profileId), [], (target) => target.socketsLeave(roomChannel(roomId)));
    return Promise.resolve();
  }

  unsubscribeAll(roomId: string): Promise<void> {
    this.everywhere(roomChannel(roomId), [], (target) => target.socketsLeave(roomChannel(roomId)));
    return Promise.resolve();
  }

  /** Applies `act` to the sockets in `channel` (but those in `except`): here at once, then on the other instances. */
  private everywhere(channel: string, except: string[], act: (target: Target) => void): void {
    const namespace = this.namespace;
    if (!namespace) {
      return;
    }
    act(namespace.local.to(channel).except(except) as Target);
    if (this.redis) {
      act(namespace.to(channel).except([...except, this.self]) as Target);
    }
  }
}
