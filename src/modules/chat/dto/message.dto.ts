import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Matches, Max, Min } from 'class-validator';

export const MESSAGE_ROLES = ['user', 'assistant', 'system'] as const;
export const MESSAGE_STATUSES = ['complete', 'streaming', 'truncated', 'failed', 'cancelled'] as const;
export const CLIENT_ID = /^[A-Za-z0-9_-]{1,64}$/;

export class MessageErrorDto {
  @ApiProperty()
  code!: string;

  @ApiProperty()
  message!: string;
}

export class MessageDto {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ format: 'uuid' })
  roomId!: string;

  @ApiProperty({ description: 'per room, from 1, without gaps' })
  seq!: number;

  @ApiProperty({ enum: MESSAGE_ROLES })
  role!: (typeof MESSAGE_ROLES)[number];

  @ApiProperty({ type: String, nullable: true, format: 'uuid' })
  senderId!: string | null;

  @ApiProperty()
  content!: string;

  @ApiProperty({ enum: MESSAGE_STATUSES })
  status!: (typeof MESSAGE_STATUSES)[number];

  @ApiProperty({ type: String, nullable: true })
  clientId!: string | null;

  @ApiProperty({ type: String, nullable: true, format: 'uuid' })
  replyToId!: string | null;

  @ApiProperty({ format: 'date-time' })
  createdAt!: string;

  @ApiProperty({ format: 'date-time' })
  updatedAt!: string;

  @ApiPropertyOptional({ type: MessageErrorDto })
  error?: MessageErrorDto;
}

export class MessagePageDto {
  @ApiProperty({ type: [MessageDto] })
  messages!: MessageDto[];

  @ApiProperty({ description: 'more messages lie beyond this page in its direction' })
  hasMore!: boolean;
}

export class SentMessageDto {
  @ApiProperty({ type: MessageDto })
  message!: MessageDto;

  @ApiProperty({ description: 'true when this clientId was already sent: nothing new was stored' })
  duplicate!: boolean;
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

  @ApiPropertyOptional({ minimum: 1, maximum: 100, default: 50 })
  @IsOptional()
  @Type(() => Number)
  @IsInt({ message: LIMIT_MESSAGE })
  @Min(1, { message: LIMIT_MESSAGE })
  @Max(100, { message: LIMIT_MESSAGE })
  limit?: number;
}
