import { Module } from '@nestjs/common';
import { MetricsModule } from '../metrics/metrics.module';
import { ModerationModule } from '../moderation/moderation.module';
import { AI_PROVIDER } from './ai-provider.port';
import { AiJobsRepository } from './ai-jobs.repository';
import { AiRepliesRepository } from './ai-replies.repository';
import { AiReplyService } from './ai-reply.service';
import { ContextBuilder } from './context-builder.service';
import { OpenAiProvider } from './openai.provider';
import { PartialReplies } from './partial-replies.store';
import { ReplyScheduler } from './reply-scheduler.service';
import { ReplySignals } from './reply-signals';
import { ReplyWriter } from './reply-writer.service';

/** AI replies. It reaches clients only through the RealtimeBroadcaster port; it knows no sockets. */
@Module({
  imports: [MetricsModule, ModerationModule],
  providers: [
    { provide: AI_PROVIDER, useClass: OpenAiProvider },
    AiRepliesRepository,
    AiJobsRepository,
    ContextBuilder,
    PartialReplies,
    ReplySignals,
    ReplyScheduler,
    ReplyWriter,
    AiReplyService,
  ],
  exports: [AiReplyService],
})
export class AiModule {}
