import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Put, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { CurrentActor } from '../auth/current-user.decorator';
import type { UserActor } from '../persistence/database.port';
import {
  AnswerRequestDto,
  ChangedMessageDto,
  EditedMessageDto,
  EditMessageDto,
  MessagePageDto,
  MessagePageQueryDto,
  SendMessageDto,
  SentMessageDto,
} from './dto/message.dto';
import { MessageChangesService } from './message-changes.service';
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
    private readonly changes: MessageChangesService,
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

  @Patch(':messageId')
  @ApiOperation({
    summary: 'Edit one’s own message within MESSAGE_EDIT_WINDOW_SECONDS (rerun: ask the assistant again)',
  })
  @ApiResponse({ status: 200, type: EditedMessageDto })
  async edit(
    @CurrentActor() actor: UserActor,
    @Param('id', uuidPipe('Room')) id: string,
    @Param('messageId', uuidPipe('Message')) messageId: string,
    @Body() body: EditMessageDto,
  ): Promise<EditedMessageDto> {
    return this.changes.edit(actor, id, messageId, body.content, body.rerun);
  }

  @Delete(':messageId')
  @ApiOperation({ summary: 'Delete a message (its author, or the room’s owner): a tombstone stays' })
  @ApiResponse({ status: 200, type: ChangedMessageDto })
  async delete(
    @CurrentActor() actor: UserActor,
    @Param('id', uuidPipe('Room')) id: string,
    @Param('messageId', uuidPipe('Message')) messageId: string,
  ): Promise<ChangedMessageDto> {
    return { message: await this.changes.delete(actor, id, messageId) };
  }

  @Post(':messageId/regenerate')
  @HttpCode(202)
  @ApiOperation({ summary: 'Ask the assistant for a new answer (the next version) to the question a reply answers' })
  @ApiResponse({ status: 202, type: AnswerRequestDto })
  regenerate(
    @CurrentActor() actor: UserActor,
    @Param('id', uuidPipe('Room')) id: string,
    @Param('messageId', uuidPipe('Message')) messageId: string,
  ): Promise<AnswerRequestDto> {
    return this.changes.regenerate(actor, id, messageId);
  }

  @Put(':messageId/reactions/:emoji')
  @ApiOperation({ summary: 'Add the caller’s reaction (the emoji URL-encoded); a repeat changes nothing' })
  @ApiResponse({ status: 200, type: ChangedMessageDto })
  async addReaction(
    @CurrentActor() actor: UserActor,
    @Param('id', uuidPipe('Room')) id: string,
    @Param('messageId', uuidPipe('Message')) messageId: string,
    @Param('emoji') emoji: string,
  ): Promise<ChangedMessageDto> {
    return { message: await this.changes.react(actor, id, messageId, emoji, true) };
  }

  @Delete(':messageId/reactions/:emoji')
  @ApiOperation({ summary: 'Take back the caller’s reaction; none to take changes nothing' })
  @ApiResponse({ status: 200, type: ChangedMessageDto })
  async removeReaction(
    @CurrentActor() actor: UserActor,
    @Param('id', uuidPipe('Room')) id: string,
    @Param('messageId', uuidPipe('Message')) messageId: string,
    @Param('emoji') emoji: string,
  ): Promise<ChangedMessageDto> {
    return { message: await this.changes.react(actor, id, messageId, emoji, false) };
  }
}
