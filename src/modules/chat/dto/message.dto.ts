import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsBoolean, IsInt, IsOptional, IsString, Matches, Max, Min } from 'class-validator';
import type { ChangesPage } from '../../../../client/src/protocol';
import { MessageDto } from '../../../common/messages/message';

export { MESSAGE_ROLES, MESSAGE_STATUSES, MessageDto, MessageErrorDto } from '../../../common/messages/message';

export const CLIENT_ID = /^[A-Za-z0-9_-]{1,64}$/;

export class MessagePageDto {
  @ApiProperty({ type: [MessageDto] })
  messages!: MessageDto[];

  @ApiProperty({ description: 'more messages lie beyond this page in its direction' })
  hasMore!: boolean;
}

/** Implements the SDK's ChangesPage (`GET /api/rooms/:id/changes`). */
export class ChangesPageDto implements ChangesPage {
  @ApiProperty({ type: [MessageDto], description: 'each changed message once, in its current state, ascending rev' })
  messages!: MessageDto[];

  @ApiProperty({ description: 'more changes lie after this page: ask again after its last rev' })
  hasMore!: boolean;

  @ApiProperty({ description: "the room's latest rev when the page was read" })
  lastRev!: number;
}

export class SentMessageDto {
  @ApiProperty({ type: MessageDto })
  message!: MessageDto;

  @ApiProperty({ description: 'true when this clientId was already sent: nothing new was stored' })
  duplicate!: boolean;
}

export class ChangedMessageDto {
  @ApiProperty({ type: MessageDto, description: 'the message as it is after the change' })
  message!: MessageDto;
}

export class EditMessageDto {
  @ApiProperty({ description: 'trimmed; 1 to MESSAGE_MAX_LENGTH (default 4000) characters' })
  @IsString()
  content!: string;

  @ApiPropertyOptional({ description: 'true: ask the assistant again for an answer to the edited message' })
  @IsOptional()
  @IsBoolean()
  rerun?: boolean;
}

export class EditedMessageDto extends ChangedMessageDto {
  @ApiPropertyOptional({ description: 'only when rerun was asked: whether a new answer was asked for' })
  rerun?: boolean;
}

export class AnswerRequestDto {
  @ApiProperty({ format: 'uuid', description: 'the question the new answer will answer' })
  questionId!: string;

  @ApiProperty({ description: 'false when a request for that question already waited (it answers it as it stands)' })
  queued!: boolean;
}

export class SendMessageDto {
  @ApiProperty({ description: 'trimmed; 1 to MESSAGE_MAX_LENGTH (default 4000) characters' })
  @IsString()
  content!: string;

  @ApiPropertyOptional({ description: '1–64 characters of A-Z a-z 0-9 - _; a repeat stores nothing' })
  @IsOptional()
  @IsString()
  @Matches(CLIENT_ID, { message: 'must be 1–64 characters of A-Z a-z 0-9 - _' })
  clientId?: string;
}

const SEQ_MESSAGE = 'must be a whole number from 0';
const LIMIT_MESSAGE = 'must be a whole number from 1 to 100';

/** A query's `limit`: 1–100, default 50 (PROTOCOL.md §3). */
export const PageLimit = (): PropertyDecorator =>
  applyDecorators(
    ApiPropertyOptional({ minimum: 1, maximum: 100, default: 50 }),
    IsOptional(),
    Type(() => Number),
    IsInt({ message: LIMIT_MESSAGE }),
    Min(1, { message: LIMIT_MESSAGE }),
    Max(100, { message: LIMIT_MESSAGE }),
  );

export class MessagePageQueryDto {
  @ApiPropertyOptional({ minimum: 0 })
  @IsOptional()
  @Type(() => Number)
  @IsInt({ message: SEQ_MESSAGE })
  @Min(0, { message: SEQ_MESSAGE })
  @Max(Number.MAX_SAFE_INTEGER, { message: SEQ_MESSAGE })
  afterSeq?: number;

  @ApiPropertyOptional({ minimum: 1 })
  @IsOptional()
  @Type(() => Number)
  @IsInt({ message: SEQ_MESSAGE })
  @Min(1, { message: 'must be a whole number from 1' })
  @Max(Number.MAX_SAFE_INTEGER, { message: SEQ_MESSAGE })
  beforeSeq?: number;

  @PageLimit()
  limit?: number;
}

export class ChangesQueryDto {
  @ApiPropertyOptional({ minimum: 0, default: 0, description: 'the last rev the client holds (0: from the start)' })
  @IsOptional()
  @Type(() => Number)
  @IsInt({ message: SEQ_MESSAGE })
  @Min(0, { message: SEQ_MESSAGE })
  @Max(Number.MAX_SAFE_INTEGER, { message: SEQ_MESSAGE })
  afterRev?: number;

  @PageLimit()
  limit?: number;
}
