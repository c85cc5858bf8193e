import { Global, Module } from '@nestjs/common';
import { REALTIME_BROADCASTER } from '../../../common/realtime/realtime-broadcaster';
import { RoomFeed } from './room-feed.service';
import { RoomFeedRepository } from './room-feed.repository';
import { SocketBroadcaster } from './socket-broadcaster.service';

/**
 * The RealtimeBroadcaster port over Socket.IO, global so that features which know no sockets (AI
 * replies) reach clients through the port without importing the chat module.
 */
@Global()
@Module({
  providers: [
    RoomFeedRepository,
    RoomFeed,
    SocketBroadcaster,
    { provide: REALTIME_BROADCASTER, useExisting: SocketBroadcaster },
  ],
  exports: [SocketBroadcaster, RoomFeed, REALTIME_BROADCASTER],
})
export class RealtimeModule {}
