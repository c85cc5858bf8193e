import { Controller, Get, Inject } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiProperty, ApiResponse, ApiTags } from '@nestjs/swagger';
import { APP_CONFIG, type AppConfig } from '../../config/app-config';
import { MAX_EMOJI_LENGTH } from './message-content';

export class LimitsDto {
  @ApiProperty({ description: 'MESSAGE_MAX_LENGTH: the most characters a message may hold after trimming' })
  messageMaxLength!: number;

  @ApiProperty({ description: 'MESSAGE_EDIT_WINDOW_SECONDS: how long after sending its author may edit a message' })
  editWindowSeconds!: number;

  @ApiProperty({ description: 'the most UTF-16 code units a reaction may have' })
  reactionMaxLength!: number;
}

/** What a client needs to know to offer only what the server accepts (PROTOCOL.md §3 "Limits"). */
@ApiTags('limits')
@ApiBearerAuth()
@Controller('api/limits')
export class LimitsController {
  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  @Get()
  @ApiOperation({ summary: 'The server’s limits on what a client sends' })
  @ApiResponse({ status: 200, type: LimitsDto })
  limits(): LimitsDto {
    return {
      messageMaxLength: this.config.messages.maxLength,
      editWindowSeconds: this.config.messages.editWindowSeconds,
      reactionMaxLength: MAX_EMOJI_LENGTH,
    };
  }
}
