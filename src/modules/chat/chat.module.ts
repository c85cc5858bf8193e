import { Module } from '@nestjs/common';
import { RateLimiter } from '../../common/rate-limit/rate-limiter.service';
import { MembersController } from './members.controller';
import { MessageSenderService } from './message-sender.service';
import { MessagesController } from './messages.controller';
import { MessagesRepository } from './messages.repository';
import { ProfilesController } from './profiles.controller';
import { ProfilesRepository } from './profiles.repository';
import { RoomsController } from './rooms.controller';
import { RoomsRepository } from './rooms.repository';

@Module({
  controllers: [ProfilesController, RoomsController, MembersController, MessagesController],
  providers: [ProfilesRepository, RoomsRepository, MessagesRepository, MessageSenderService, RateLimiter],
  exports: [ProfilesRepository, MessageSenderService],
})
export class ChatModule {}
