import { Injectable } from '@nestjs/common';
import type { Namespace } from 'socket.io';
import type { RealtimeBroadcaster } from '../../../common/realtime/realtime-broadcaster';
import type { RoomEvents, UserEvents } from '../../../common/realtime/server-events';
import { RoomFeed } from './room-feed.service';
import { roomChannel, userChannel } from './socket-rooms';

/**
 * The RealtimeBroadcaster over Socket.IO rooms, on every instance. A room's message events go through the
 * room feed (ordered by seq where they are received); every other event is emitted to the room through the
 * Socket.IO adapter, which fans it out to the other instances (Redis streams adapter) or stays in-process.
 * Every operation names rooms, never iterates sockets.
 */
@Injectable()
export class SocketBroadcaster implements RealtimeBroadcaster {
  private namespace?: Namespace;

  constructor(private readonly feed: RoomFeed) {}

  /** Called by the gateway once its namespace exists. */
  attach(namespace: Namespace): void {
    this.namespace = namespace;
    this.feed.attach(namespace);
  }

  toRoom<E extends keyof RoomEvents>(roomId: string, event: E, payload: RoomEvents[E], exceptProfileId?: string): void {
    if (event === 'message:delta' || event === 'message:updated') {
      this.feed.publish({ roomId, event, payload: payload as RoomEvents['message:delta' | 'message:updated'] });
      return;
    }
    const target = this.namespace?.to(roomChannel(roomId));
    if (!target) {
      return;
    }
    (exceptProfileId ? target.except(userChannel(exceptProfileId)) : target).emit(event, payload);
  }

  toRoomInOrder(roomId: string, seq: number, event: 'message:new', payload: RoomEvents['message:new']): void {
    this.feed.publish({ roomId, event, payload, seq });
  }

  toUser<E extends keyof UserEvents>(profileId: string, event: E, payload: UserEvents[E]): void {
    this.namespace?.to(userChannel(profileId)).emit(event, payload);
  }

  unsubscribeMember(roomId: string, profileId: string): Promise<void> {
    // With the Redis adapter this reaches the member's sockets on every instance.
    this.namespace?.in(userChannel(profileId)).socketsLeave(roomChannel(roomId));
    return Promise.resolve();
  }

  unsubscribeAll(roomId: string): Promise<void> {
    this.namespace?.in(roomChannel(roomId)).socketsLeave(roomChannel(roomId));
    return Promise.resolve();
  }
}
