import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsString, Length, Matches } from 'class-validator';
import { Optional } from '../../../common/validation/optional.decorator';
import { ProfileDto } from './profile.dto';

export class RegisterDto {
  @ApiProperty({ example: 'ada_l', description: '3–32 characters of a-z, 0-9 and _' })
  @IsString()
  @Matches(/^[a-z0-9_]{3,32}$/, { message: 'must be 3–32 characters of a-z, 0-9 and _' })
  username!: string;

  @ApiProperty({ minLength: 8, maxLength: 256 })
  @IsString()
  @Length(8, 256, { message: 'must be 8–256 characters' })
  password!: string;

  @ApiPropertyOptional({ maxLength: 64, description: 'defaults to the username' })
  @Optional()
  @IsString()
  @Matches(/\S/, { message: 'must not be blank' })
  @Length(1, 64, { message: 'must be 1–64 characters' })
  displayName?: string;
}

export class LoginDto {
  @ApiProperty()
  @IsString()
  @Length(1, 256)
  username!: string;

  @ApiProperty()
  @IsString()
  @Length(1, 256)
  password!: string;
}

export class SessionDto {
  @ApiProperty()
  accessToken!: string;

  @ApiProperty({ enum: ['Bearer'] })
  tokenType!: 'Bearer';

  @ApiProperty({ description: 'lifetime of the token in seconds' })
  expiresIn!: number;

  @ApiProperty({ type: () => ProfileDto })
  profile!: ProfileDto;
}
