import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsString, Length, Matches } from 'class-validator';
import { Optional } from '../../../common/validation/optional.decorator';

export const PLATFORMS = ['ios', 'android', 'web'] as const;
export type Platform = (typeof PLATFORMS)[number];

/** An Expo push token as the app gets it from `getExpoPushTokenAsync` (the table's check says the same). */
export const EXPO_PUSH_TOKEN = /^(ExponentPushToken|ExpoPushToken)\[[A-Za-z0-9_-]{1,200}\]$/;
const TOKEN = { message: 'must be an Expo push token: ExponentPushToken[…]' };
const LOCALE = { message: 'must be a language tag such as en or pt-BR (at most 35 characters)' };

export class RegisterDeviceDto {
  @ApiProperty({ enum: PLATFORMS })
  @IsIn(PLATFORMS, { message: `must be one of ${PLATFORMS.join(', ')}` })
  platform!: Platform;

  @ApiProperty({ example: 'ExponentPushToken[xxxxxxxxxxxxxxxxxxxxxx]' })
  @IsString(TOKEN)
  @Length(1, 240, TOKEN)
  @Matches(EXPO_PUSH_TOKEN, TOKEN)
  token!: string;

  @ApiPropertyOptional({ example: 'en-GB', description: "the device's language (BCP 47), kept with the device" })
  @Optional()
  @IsString(LOCALE)
  @Length(2, 35, LOCALE)
  @Matches(/^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8}){0,7}$/, LOCALE)
  locale?: string;
}

export class DeviceDto {
  @ApiProperty()
  token!: string;

  @ApiProperty({ enum: PLATFORMS })
  platform!: Platform;

  @ApiProperty({ type: String, nullable: true })
  locale!: string | null;

  @ApiProperty({ format: 'date-time' })
  createdAt!: string;

  @ApiProperty({ format: 'date-time' })
  updatedAt!: string;
}

export class DeviceListDto {
  @ApiProperty({ type: () => [DeviceDto] })
  devices!: DeviceDto[];
}
