import { Module } from '@nestjs/common';
import { MetricsModule } from '../metrics/metrics.module';
import { ModerationService } from './moderation.service';

/** Checks of message text with the provider's moderation endpoint; it stores and sends nothing itself. */
@Module({
  imports: [MetricsModule],
  providers: [ModerationService],
  exports: [ModerationService],
})
export class ModerationModule {}
