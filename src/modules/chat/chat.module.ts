import { Module } from '@nestjs/common';
import { AiModule } from '../ai/ai.module';
import { AuthModule } from '../auth/auth.module';
import { HealthModule } from '../health/health.module';
import { MetricsModule } from '../metrics/metrics.module';
import { ModerationModule } from '../moderation/moderation.module';
import { PushModule } from '../push/push.module';
import { PushService } from '../push/push.service';
import { BlocksController } from './blocks/blocks.controller';
import { BlocksService } from './blocks/blocks.service';
import { ChangesController } from './changes.controller';
import { DrainService } from './drain.service';
import { LimitsController } from './limits.controller';
import { MembersController } from './members.controller';
import { MessageChangesService } from './message-changes.service';
import { MessageSenderService } from './message-sender.service';
import { MessagesController } from './messages.controller';
import { MessagesRepository } from './messages.repository';
import { ProfilesController } from './profiles.controller';
import { ProfilesRepository } from './profiles.repository';
import { ChatGateway } from './realtime/chat.gateway';
import { ReportsController } from './reports/reports.controller';
import { ReportsService } from './reports/reports.service';
import { FloodGuard } from './realtime/flood-guard.service';
import { SocketCapMiddleware } from './realtime/socket-cap.middleware';
import { PresenceService } from './realtime/presence.service';
import { RoomSessionService } from './realtime/room-session.service';
import { SocketEventRunner } from './realtime/socket-event-runner.service';
import { SocketSessionService } from './realtime/socket-session.service';
import { TypingService } from './realtime/typing.service';
import { RoomsController } from './rooms.controller';
import { RoomsRepository } from './rooms.repository';
import { RoomsService } from './rooms.service';

@Module({
  imports: [AuthModule, AiModule, MetricsModule, HealthModule, PushModule, ModerationModule],
  controllers: [
    ProfilesController,
    RoomsController,
    MembersController,
    MessagesController,
    ChangesController,
    ReportsController,
    LimitsController,
    BlocksController,
  ],
  providers: [
    ReportsService,
    BlocksService,
    ProfilesRepository,
    RoomsRepository,
    MessagesRepository,
    RoomsService,
    MessageSenderService,
    MessageChangesService,
    ChatGateway,
    SocketEventRunner,
    FloodGuard,
    SocketCapMiddleware,
    PresenceService,
    TypingService,
    RoomSessionService,
    SocketSessionService,
    DrainService,
    PushService,
  ],
  exports: [MessageSenderService, DrainService],
})
export class ChatModule {}
