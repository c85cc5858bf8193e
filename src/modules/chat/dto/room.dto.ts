import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
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

export class RoomDto {
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

  @ApiProperty({ format: 'date-time' })
  createdAt!: string;

  @ApiProperty({ format: 'date-time' })
  updatedAt!: string;

  @ApiProperty({ enum: ['owner', 'member'], nullable: true, type: String })
  myRole!: 'owner' | 'member' | null;
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
