import { Module } from '@nestjs/common';
import { MetricsModule } from '../metrics/metrics.module';
import { AI_PROVIDER } from './ai-provider.port';
import { AiRepliesRepository } from './ai-replies.repository';
import { AiReplyService } from './ai-reply.service';
import { ContextBuilder } from './context-builder.service';
import { OpenAiProvider } from './openai.provider';

/** AI replies. It reaches clients only through the RealtimeBroadcaster port; it knows no sockets. */
@Module({
  imports: [MetricsModule],
  providers: [{ provide: AI_PROVIDER, useClass: OpenAiProvider }, AiRepliesRepository, ContextBuilder, AiReplyService],
  exports: [AiReplyService],
})
export class AiModule {}
