import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, IsUrl, Length, Matches, ValidateIf } from 'class-validator';
import { Optional } from '../../../common/validation/optional.decorator';

export class UpdateProfileDto {
  @ApiPropertyOptional({ minLength: 1, maxLength: 64 })
  @Optional()
  @IsString()
  @Matches(/\S/, { message: 'must not be blank' })
  @Length(1, 64, { message: 'must be 1–64 characters' })
  displayName?: string;

  @ApiPropertyOptional({ type: String, nullable: true, description: 'an http(s) URL, or null to clear it' })
  @ValidateIf((_, value) => value !== null)
  @IsOptional()
  @IsString()
  @Length(1, 2048, { message: 'must be at most 2048 characters' })
  @IsUrl({ protocols: ['http', 'https'], require_protocol: true }, { message: 'must be an http(s) URL' })
  avatarUrl?: string | null;
}
