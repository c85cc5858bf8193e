import { Module } from '@nestjs/common';
import { RateLimiter } from '../../common/rate-limit/rate-limiter.service';
import { REALTIME_BROADCASTER } from '../../common/realtime/realtime-broadcaster';
import { AuthModule } from '../auth/auth.module';
import { MetricsModule } from '../metrics/metrics.module';
import { MembersController } from './members.controller';
import { MessageSenderService } from './message-sender.service';
import { MessagesController } from './messages.controller';
import { MessagesRepository } from './messages.repository';
import { ProfilesController } from './profiles.controller';
import { ProfilesRepository } from './profiles.repository';
import { ChatGateway } from './realtime/chat.gateway';
import { PresenceService } from './realtime/presence.service';
import { SocketBroadcaster } from './realtime/socket-broadcaster.service';
import { SocketEventRunner } from './realtime/socket-event-runner.service';
import { TypingService } from './realtime/typing.service';
import { RoomsController } from './rooms.controller';
import { RoomsRepository } from './rooms.repository';
import { RoomsService } from './rooms.service';

@Module({
  imports: [AuthModule, MetricsModule],
  controllers: [ProfilesController, RoomsController, MembersController, MessagesController],
  providers: [
    ProfilesRepository,
    RoomsRepository,
    MessagesRepository,
    RoomsService,
    MessageSenderService,
    RateLimiter,
    ChatGateway,
    SocketBroadcaster,
    { provide: REALTIME_BROADCASTER, useExisting: SocketBroadcaster },
    SocketEventRunner,
    PresenceService,
    TypingService,
  ],
  exports: [MessageSenderService, REALTIME_BROADCASTER],
})
export class ChatModule {}
