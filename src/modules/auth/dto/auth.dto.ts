import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsString, Length, Matches } from 'class-validator';
import { Optional } from '../../../common/validation/optional.decorator';
import { ProfileDto } from './profile.dto';

const DEVICE_TOKEN = { message: 'must be a push token (1–4096 printable ASCII characters)' };

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

const REFRESH_TOKEN = { message: 'must be a refresh token (a string of 1–256 characters)' };

export class RefreshDto {
  @ApiProperty({ description: 'the refreshToken of the last session body, as it came' })
  @IsString(REFRESH_TOKEN)
  @Length(1, 256, REFRESH_TOKEN)
  refreshToken!: string;
}

export class LogoutDto extends RefreshDto {
  /** The push token of the device signing out, whose push registration goes with the session. */
  @ApiPropertyOptional({ maxLength: 4096, description: "this device's push token: its push registration is removed" })
  @Optional()
  @IsString(DEVICE_TOKEN)
  @Matches(/^[\x21-\x7e]{1,4096}$/, DEVICE_TOKEN)
  deviceToken?: string;
}

export class SessionDto {
  @ApiProperty()
  accessToken!: string;

  @ApiProperty({ enum: ['Bearer'] })
  tokenType!: 'Bearer';

  @ApiProperty({ description: 'lifetime of the access token in seconds' })
  expiresIn!: number;

  @ApiProperty({ description: 'opaque; exchange it at POST /api/auth/refresh for a new session (once)' })
  refreshToken!: string;

  @ApiProperty({ description: 'how long the refresh token lives unused, in seconds' })
  refreshExpiresIn!: number;

  @ApiProperty({ type: () => ProfileDto })
  profile!: ProfileDto;
}
