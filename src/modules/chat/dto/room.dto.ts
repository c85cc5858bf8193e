import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import type { Room } from '../../../../client/src/protocol';
import {
  IsBoolean,
  IsIn,
  IsInt,
  IsObject,
  IsOptional,
  IsString,
  Length,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateIf,
  ValidateNested,
} from 'class-validator';
import { Optional } from '../../../common/validation/optional.decorator';

export const AI_MODES = ['off', 'mention', 'always'] as const;
export const VISIBILITIES = ['private', 'public'] as const;
/** The unread count is counted up to this (the database's chat_private.unread_count): a client shows it as "99+". */
export const UNREAD_CAP = 100;
const SEQ_RULE = 'must be a whole number from 0';

export class RoomAiDto {
  @ApiProperty({ enum: AI_MODES })
  mode!: (typeof AI_MODES)[number];

  @ApiProperty({ type: String, nullable: true })
  systemPrompt!: string | null;

  @ApiProperty({ type: String, nullable: true })
  model!: string | null;

  @ApiProperty({ description: 'false when the server has no AI provider configured' })
  available!: boolean;
}

export class LastMessageDto {
  @ApiProperty()
  seq!: number;

  @ApiProperty({ enum: ['user', 'assistant', 'system'] })
  role!: 'user' | 'assistant' | 'system';

  @ApiProperty({ type: String, format: 'uuid', nullable: true, description: 'null for the assistant' })
  senderId!: string | null;

  @ApiProperty({ description: 'the first 140 characters of the content', maxLength: 140 })
  preview!: string;

  @ApiProperty({ format: 'date-time' })
  createdAt!: string;

  @ApiPropertyOptional({ enum: ['blocked', 'flagged', 'pending'], description: 'withheld from the reader: no preview' })
  withheld?: 'blocked' | 'flagged' | 'pending';
}

/** Implements the SDK's Room: the wire type both sides compile against. */
export class RoomDto implements Room {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty()
  name!: string;

  @ApiProperty({ enum: VISIBILITIES })
  visibility!: (typeof VISIBILITIES)[number];

  @ApiProperty({ format: 'uuid' })
  ownerId!: string;

  @ApiProperty({ type: RoomAiDto })
  ai!: RoomAiDto;

  @ApiProperty({ description: '0 for a room without messages' })
  lastSeq!: number;

  @ApiProperty({ type: Number, nullable: true, description: "the room's latest change number; null for a non-member" })
  lastRev!: number | null;

  @ApiProperty({ description: 'whether members see each other’s read pointers (read:receipt)' })
  readReceipts!: boolean;

  @ApiProperty({ type: LastMessageDto, nullable: true, description: 'null without messages or for a non-member' })
  lastMessage!: LastMessageDto | null;

  @ApiProperty({ format: 'date-time' })
  createdAt!: string;

  @ApiProperty({ format: 'date-time' })
  updatedAt!: string;

  @ApiProperty({ enum: ['owner', 'member'], nullable: true, type: String })
  myRole!: 'owner' | 'member' | null;

  @ApiProperty({ type: Number, nullable: true, description: 'the caller’s read pointer; null for a non-member' })
  lastReadSeq!: number | null;

  @ApiProperty({
    type: Number,
    nullable: true,
    maximum: UNREAD_CAP,
    description: `messages after the caller's pointer that others wrote, counted up to ${UNREAD_CAP}; null for a non-member`,
  })
  unread!: number | null;

  @ApiProperty({ type: Boolean, nullable: true, description: 'the caller muted the room’s push notifications' })
  muted!: boolean | null;
}

export class ReadRoomDto {
  @ApiProperty({ minimum: 0, description: 'the highest seq read; past the room’s lastSeq counts as lastSeq' })
  @IsInt({ message: SEQ_RULE })
  @Min(0, { message: SEQ_RULE })
  @Max(Number.MAX_SAFE_INTEGER, { message: SEQ_RULE })
  seq!: number;
}

export class ReadStateDto {
  @ApiProperty({ format: 'uuid' })
  roomId!: string;

  @ApiProperty({ description: 'the caller’s read pointer now (never moved back)' })
  lastReadSeq!: number;

  @ApiProperty({ maximum: UNREAD_CAP })
  unread!: number;
}

export class MembershipDto {
  @ApiProperty({ description: 'no push notifications for this room' })
  @IsBoolean({ message: 'must be true or false' })
  muted!: boolean;
}

export class RoomListDto {
  @ApiProperty({ type: [RoomDto] })
  rooms!: RoomDto[];
}

export class RoomAiInputDto {
  @ApiPropertyOptional({ enum: AI_MODES })
  @Optional()
  @IsIn(AI_MODES, { message: `must be one of ${AI_MODES.join(', ')}` })
  mode?: (typeof AI_MODES)[number];

  @ApiPropertyOptional({ type: String, nullable: true, maxLength: 4000 })
  @ValidateIf((_, value) => value !== null)
  @IsOptional()
  @IsString()
  @MaxLength(4000, { message: 'must be at most 4000 characters' })
  systemPrompt?: string | null;

  @ApiPropertyOptional({ type: String, nullable: true, maxLength: 100, description: 'null uses the server default' })
  @ValidateIf((_, value) => value !== null)
  @IsOptional()
  @IsString()
  @Matches(/^[A-Za-z0-9._:/@-]{1,100}$/, { message: 'must be 1–100 characters of A-Z a-z 0-9 . _ : / @ -' })
  model?: string | null;
}

export class CreateRoomDto {
  @ApiProperty({ minLength: 1, maxLength: 100 })
  @IsString()
  @Matches(/\S/, { message: 'must not be blank' })
  @Length(1, 100, { message: 'must be 1–100 characters' })
  name!: string;

  @ApiPropertyOptional({ enum: VISIBILITIES, default: 'private' })
  @Optional()
  @IsIn(VISIBILITIES, { message: `must be one of ${VISIBILITIES.join(', ')}` })
  visibility?: (typeof VISIBILITIES)[number];

  @ApiPropertyOptional({ type: RoomAiInputDto })
  @Optional()
  @IsObject({ message: 'must be an object' })
  @ValidateNested()
  @Type(() => RoomAiInputDto)
  ai?: RoomAiInputDto;
}

export class UpdateRoomDto {
  @ApiPropertyOptional({ description: 'whether members see each other’s read pointers' })
  @Optional()
  @IsBoolean({ message: 'must be true or false' })
  readReceipts?: boolean;

  @ApiPropertyOptional({ minLength: 1, maxLength: 100 })
  @Optional()
  @IsString()
  @Matches(/\S/, { message: 'must not be blank' })
  @Length(1, 100, { message: 'must be 1–100 characters' })
  name?: string;

  @ApiPropertyOptional({ enum: VISIBILITIES })
  @Optional()
  @IsIn(VISIBILITIES, { message: `must be one of ${VISIBILITIES.join(', ')}` })
  visibility?: (typeof VISIBILITIES)[number];

  @ApiPropertyOptional({ type: RoomAiInputDto })
  @Optional()
  @IsObject({ message: 'must be an object' })
  @ValidateNested()
  @Type(() => RoomAiInputDto)
  ai?: RoomAiInputDto;
}

export class PublicRoomsQueryDto {
  @ApiPropertyOptional({ description: 'plain text the name contains, any case', maxLength: 100 })
  @IsOptional()
  @IsString()
  @MaxLength(100, { message: 'must be at most 100 characters' })
  q?: string;

  @ApiPropertyOptional({ minimum: 1, maximum: 100, default: 50 })
  @IsOptional()
  @Type(() => Number)
  @IsInt({ message: 'must be a whole number from 1 to 100' })
  @Min(1, { message: 'must be a whole number from 1 to 100' })
  @Max(100, { message: 'must be a whole number from 1 to 100' })
  limit?: number;
}
