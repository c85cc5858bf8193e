import { Module } from '@nestjs/common';
import { MetricsModule } from '../metrics/metrics.module';
import { ContentModerator } from './content-moderator.service';
import { ModerationService } from './moderation.service';

/** Checks of message text with the provider's moderation endpoint, and what they do to messages. */
@Module({
  imports: [MetricsModule],
  providers: [ModerationService, ContentModerator],
  exports: [ModerationService, ContentModerator],
})
export class ModerationModule {}
