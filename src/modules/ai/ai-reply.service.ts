import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { bulkhead, type BulkheadPolicy } from 'cockatiel';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { RateLimiter } from '../../common/rate-limit/rate-limiter.service';
import { REALTIME_BROADCASTER, type RealtimeBroadcaster } from '../../common/realtime/realtime-broadcaster';
import { APP_CONFIG, type AppConfig } from '../../config/app-config';
import type { MessageDto } from '../../common/messages/message';
import { MetricsService } from '../metrics/metrics.service';
import { AI_PROVIDER, type AiProvider, type AiRequest } from './ai-provider.port';
import { AiRepliesRepository } from './ai-replies.repository';
import { createAiPolicies, type AiPolicies } from './ai-resilience';
import { ContextBuilder } from './context-builder.service';
import { LiveReply } from './live-reply';
import { asksForReply, type AiMode } from './mentions';
import { NotConfigured, OverLimit, failureOf, type ReplyOutcome } from './reply-outcome';
import { streamReply, type StreamStats } from './reply-stream';

/** Replies generated at once in this process, across rooms (each room has one at a time). */
export const MAX_CONCURRENT_REPLIES = 32;
const CHECKPOINT_EVERY_MS = 5000;
const AI_WINDOW_MS = 60_000;

interface ReplyJob {
  roomId: string;
  question: MessageDto;
  askedBy: string;
  /** Set when the asker is over their AI reply limit: the reply is still made, as failed. */
  overLimitMs?: number;
}

/**
 * The assistant's replies: one FIFO queue per room, so replies come in the order of their questions;
 * each reply is created `streaming`, streamed to the room as coalesced deltas, kept in memory for late
 * joiners, checkpointed, and stored once at the end with its final status.
 */
@Injectable()
export class AiReplyService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly queues = new Map<string, Promise<void>>();
  private readonly live = new Map<string, LiveReply>();
  private readonly running = new Set<Promise<void>>();
  private readonly policies: AiPolicies;
  private readonly concurrency: BulkheadPolicy = bulkhead(MAX_CONCURRENT_REPLIES, Number.MAX_SAFE_INTEGER);
  private readonly checkpoints = new WeakMap<LiveReply, { at: number; done: Promise<unknown> }>();
  private closing = false;

  constructor(
    @InjectPinoLogger(AiReplyService.name) private readonly logger: PinoLogger,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(AI_PROVIDER) private readonly provider: AiProvider,
    @Inject(REALTIME_BROADCASTER) private readonly broadcaster: RealtimeBroadcaster,
    private readonly replies: AiRepliesRepository,
    private readonly context: ContextBuilder,
    private readonly rateLimiter: RateLimiter,
    private readonly metrics: MetricsService,
  ) {
    this.policies = createAiPolicies(config.ai.maxAttempts);
  }

  /** Nothing stays `streaming` forever: replies a stopped process left mid-way end as failed. */
  async onApplicationBootstrap(): Promise<void> {
    const failed = await this.replies.failInterrupted();
    if (failed > 0) {
      this.logger.warn({ replies: failed }, 'marked interrupted AI replies failed');
    }
  }

  /** Replies in flight stop and are stored as they stand before the database closes. */
  async beforeApplicationShutdown(): Promise<void> {
    this.closing = true;
    this.live.forEach((reply) => reply.stop('shutdown'));
    await Promise.allSettled([...this.running]);
  }

  /** Queues a reply to a stored user message when the room's AI mode asks for one. */
  async consider(askedBy: string, question: MessageDto, mode: AiMode): Promise<void> {
    if (this.closing || !asksForReply(mode, question.content)) {
      return;
    }
    const rate = await this.rateLimiter.consume('ai', askedBy, this.config.rates.aiPerMinute, AI_WINDOW_MS);
    const job: ReplyJob = {
      roomId: question.roomId,
      question,
      askedBy,
      overLimitMs: rate.allowed ? undefined : rate.retryAfterMs,
    };
    const previous = this.queues.get(job.roomId) ?? Promise.resolve();
    const next = previous.then(() => this.concurrency.execute(() => this.produce(job)));
    this.queues.set(job.roomId, next);
    const tracked = next.finally(() => {
      this.running.delete(tracked);
      if (this.queues.get(job.roomId) === next) {
        this.queues.delete(job.roomId);
      }
    });
    this.running.add(tracked);
  }

  /** The text clients have been sent so far of a reply streaming in this process. */
  partial(messageId: string): string | undefined {
    return this.live.get(messageId)?.visible;
  }

  /** Stops a reply streaming in this process; false when none is (it ended, or never was). */
  stop(roomId: string, messageId: string): boolean {
    const reply = this.live.get(messageId);
    if (!reply || reply.roomId !== roomId) {
      return false;
    }
    reply.stop('cancelled');
    return true;
  }

  private async produce(job: ReplyJob): Promise<void> {
    if (this.closing) {
      return;
    }
    const started = performance.now();
    let message: MessageDto;
    try {
      message = await this.replies.create(job.roomId, job.question.id);
    } catch (error) {
      // The room went away (deleted) or the database is down: there is nothing to reply into.
      this.logger.warn({ err: error, roomId: job.roomId, questionId: job.question.id }, 'AI reply not started');
      return;
    }
    this.broadcaster.toRoomInOrder(job.roomId, message.seq, 'message:new', { message });
    const reply = new LiveReply(message, this.broadcaster);
    this.live.set(message.id, reply);
    const stats: StreamStats = { attempts: 0 };
    let outcome: ReplyOutcome;
    let model = this.config.ai.model;
    try {
      const request = await this.prepare(job);
      model = request.model;
      const options = {
        firstTokenTimeoutMs: this.config.ai.firstTokenTimeoutMs,
        stallTimeoutMs: this.config.ai.stallTimeoutMs,
        totalTimeoutMs: this.config.ai.totalTimeoutMs,
        onText: () => this.checkpoint(reply),
      };
      outcome = await streamReply(this.provider, request, reply, this.policies, options, stats);
    } catch (error) {
      outcome = failureOf(error, reply.stopReason);
      if (outcome.unexpected) {
        this.logger.error({ err: error, roomId: job.roomId, messageId: message.id }, 'AI reply failed unexpectedly');
      }
    }
    reply.flush();
    this.live.delete(message.id);
    await this.finish(reply, outcome);
    this.report(job, message.id, model, started, outcome, stats);
  }

  private async prepare(job: ReplyJob): Promise<AiRequest> {
    if (job.overLimitMs !== undefined) {
      throw new OverLimit(job.overLimitMs);
    }
    if (!this.provider.available) {
      throw new NotConfigured();
    }
    const room = await this.replies.room(job.roomId);
    if (!room) {
      throw new Error('the room of the reply is gone');
    }
    return {
      model: room.model ?? this.config.ai.model,
      messages: await this.context.build(room, job.question.id),
      maxOutputTokens: this.config.ai.maxOutputTokens,
    };
  }

  /** Every few seconds of a long reply, its text so far is stored (a crash then loses at most that). */
  private checkpoint(reply: LiveReply): void {
    const last = this.checkpoints.get(reply) ?? { at: performance.now(), done: Promise.resolve() };
    if (performance.now() - last.at < CHECKPOINT_EVERY_MS) {
      this.checkpoints.set(reply, last);
      return;
    }
    const done = last.done
      .then(() => this.replies.update(reply.message.id, reply.content, 'streaming'))
      .catch((error: unknown) => this.logger.warn({ err: error, messageId: reply.message.id }, 'AI checkpoint failed'));
    this.checkpoints.set(reply, { at: performance.now(), done });
  }

  private async finish(reply: LiveReply, outcome: ReplyOutcome): Promise<void> {
    await this.checkpoints.get(reply)?.done;
    try {
      const stored = await this.replies.update(reply.message.id, reply.content, outcome.status, outcome.error);
      if (stored) {
        this.broadcaster.toRoom(reply.roomId, 'message:updated', { message: stored });
      }
    } catch (error) {
      this.logger.error({ err: error, messageId: reply.message.id }, 'AI reply could not be stored');
    }
  }

  private report(
    job: ReplyJob,
    messageId: string,
    model: string,
    started: number,
    outcome: ReplyOutcome,
    stats: StreamStats,
  ): void {
    const durationMs = Math.round(performance.now() - started);
    const fields = {
      roomId: job.roomId,
      messageId,
      model,
      attempts: stats.attempts,
      durationMs,
      timeToFirstTokenMs: stats.timeToFirstTokenMs,
      promptTokens: stats.usage?.promptTokens,
      completionTokens: stats.usage?.completionTokens,
      outcome: outcome.status,
      code: outcome.error?.code,
    };
    this.logger.info(fields, 'AI API call');
    this.metrics.aiReplies.inc({ outcome: outcome.error?.code ?? outcome.status });
    this.metrics.aiReplyDuration.observe(durationMs / 1000);
    if (stats.timeToFirstTokenMs !== undefined) {
      this.metrics.aiTimeToFirstToken.observe(stats.timeToFirstTokenMs / 1000);
    }
    if (stats.usage) {
      this.metrics.aiTokens.inc({ kind: 'prompt' }, stats.usage.promptTokens);
      this.metrics.aiTokens.inc({ kind: 'completion' }, stats.usage.completionTokens);
    }
  }
}
