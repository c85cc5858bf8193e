import { Body, Controller, Get, Param, Post, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { CurrentActor } from '../auth/current-user.decorator';
import type { UserActor } from '../persistence/database.port';
import { MessagePageDto, MessagePageQueryDto, SendMessageDto, SentMessageDto } from './dto/message.dto';
import { MessageSenderService } from './message-sender.service';
import { MessagesRepository } from './messages.repository';
import { uuidPipe } from './uuid.pipe';

@ApiTags('messages')
@ApiBearerAuth()
@Controller('api/rooms/:id/messages')
export class MessagesController {
  constructor(
    private readonly messages: MessagesRepository,
    private readonly sender: MessageSenderService,
  ) {}

  @Get()
  @ApiOperation({ summary: 'A page of messages in ascending seq (members only)' })
  @ApiResponse({ status: 200, type: MessagePageDto })
  page(
    @CurrentActor() actor: UserActor,
    @Param('id', uuidPipe('Room')) id: string,
    @Query() query: MessagePageQueryDto,
  ): Promise<MessagePageDto> {
    return this.messages.page(actor, id, {
      afterSeq: query.afterSeq,
      beforeSeq: query.beforeSeq,
      limit: query.limit ?? 50,
    });
  }

  @Post()
  @ApiOperation({ summary: 'Send a message; a repeated clientId stores nothing and answers 200 duplicate' })
  @ApiResponse({ status: 201, type: SentMessageDto })
  @ApiResponse({ status: 200, type: SentMessageDto, description: 'duplicate: this clientId was already sent' })
  async send(
    @CurrentActor() actor: UserActor,
    @Param('id', uuidPipe('Room')) id: string,
    @Body() body: SendMessageDto,
    @Res({ passthrough: true }) res: Response,
  ): Promise<SentMessageDto> {
    const result = await this.sender.send(actor, id, body.content, body.clientId, 'http');
    res.status(result.duplicate ? 200 : 201);
    return result;
  }
}
