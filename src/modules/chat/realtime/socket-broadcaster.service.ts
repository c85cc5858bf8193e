import { Injectable } from '@nestjs/common';
import type { Namespace } from 'socket.io';
import type { RealtimeBroadcaster } from '../../../common/realtime/realtime-broadcaster';
import { SeqOrderer } from './seq-orderer';
import { roomChannel, userChannel } from './socket-rooms';

/**
 * The RealtimeBroadcaster over Socket.IO rooms. Every operation names rooms, never iterates sockets,
 * so a Redis adapter fans it out across instances unchanged.
 */
@Injectable()
export class SocketBroadcaster implements RealtimeBroadcaster {
  private namespace?: Namespace;
  private readonly order = new SeqOrderer();

  /** Called by the gateway once its namespace exists. */
  attach(namespace: Namespace): void {
    this.namespace = namespace;
  }

  toRoom(roomId: string, event: string, payload: unknown, exceptProfileId?: string): void {
    const target = this.namespace?.to(roomChannel(roomId));
    if (!target) {
      return;
    }
    (exceptProfileId ? target.except(userChannel(exceptProfileId)) : target).emit(event, payload);
  }

  toRoomInOrder(roomId: string, seq: number, event: string, payload: unknown): void {
    this.order.emit(roomId, seq, () => this.toRoom(roomId, event, payload));
  }

  toUser(profileId: string, event: string, payload: unknown): void {
    this.namespace?.to(userChannel(profileId)).emit(event, payload);
  }

  unsubscribeMember(roomId: string, profileId: string): Promise<void> {
    this.namespace?.in(userChannel(profileId)).socketsLeave(roomChannel(roomId));
    return Promise.resolve();
  }

  unsubscribeAll(roomId: string): Promise<void> {
    this.namespace?.in(roomChannel(roomId)).socketsLeave(roomChannel(roomId));
    return Promise.resolve();
  }
}
