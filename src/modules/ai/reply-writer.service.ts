import { Inject, Injectable } from '@nestjs/common';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { ContentModerator } from '../moderation/content-moderator.service';
import { REALTIME_BROADCASTER, type RealtimeBroadcaster } from '../../common/realtime/realtime-broadcaster';
import type { MessageDto } from '../../common/messages/message';
import { APP_CONFIG, type AppConfig } from '../../config/app-config';
import { INSTANCE_ID } from '../cluster/cluster.tokens';
import { MetricsService } from '../metrics/metrics.service';
import { AI_PROVIDER, type AiProvider, type AiRequest } from './ai-provider.port';
import { AiJobsRepository, type ReplyJob } from './ai-jobs.repository';
import { AiRepliesRepository } from './ai-replies.repository';
import { createAiPolicies, type AiPolicies } from './ai-resilience';
import { ContextBuilder } from './context-builder.service';
import { LiveReply } from './live-reply';
import { PartialReplies } from './partial-replies.store';
import { NotConfigured, OverLimit, failureOf, type ReplyOutcome } from './reply-outcome';
import { streamReply, type StreamStats } from './reply-stream';

const CHECKPOINT_EVERY_MS = 5000;

/**
 * Writes the reply of a job this instance holds: creates it `streaming`, streams it to the room as coalesced deltas
 * (its text so far kept for late joiners: in this process, and in Redis for the other instances), checkpoints it,
 * and stores it once at the end with its final status. Every write names this instance as the job's holder, so a
 * job another instance took over is never written again from here.
 */
@Injectable()
export class ReplyWriter {
  private readonly live = new Map<string, LiveReply>();
  private readonly liveJobs = new Map<string, LiveReply>();
  private readonly policies: AiPolicies;
  private readonly checkpoints = new WeakMap<LiveReply, { at: number; done: Promise<unknown> }>();
  private closing = false;

  constructor(
    @InjectPinoLogger(ReplyWriter.name) private readonly logger: PinoLogger,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(INSTANCE_ID) private readonly instanceId: string,
    @Inject(AI_PROVIDER) private readonly provider: AiProvider,
    @Inject(REALTIME_BROADCASTER) private readonly broadcaster: RealtimeBroadcaster,
    private readonly jobs: AiJobsRepository,
    private readonly replies: AiRepliesRepository,
    private readonly context: ContextBuilder,
    private readonly partials: PartialReplies,
    private readonly metrics: MetricsService,
    private readonly moderator: ContentModerator,
  ) {
    this.policies = createAiPolicies(config.ai.maxAttempts);
  }

  /** The text clients have been sent so far of a reply streaming in this process. */
  visible(messageId: string): string | undefined {
    return this.live.get(messageId)?.visible;
  }

  /** Stops a reply streaming in this process; false when none is (it ended, never was, or streams elsewhere). */
  stop(roomId: string, messageId: string): boolean {
    const reply = this.live.get(messageId);
    if (!reply || reply.roomId !== roomId) {
      return false;
    }
    reply.stop('cancelled');
    return true;
  }

  /** Stops every reply of the room streaming in this process (the room was deleted). */
  stopRoom(roomId: string): void {
    this.live.forEach((reply) => {
      if (reply.roomId === roomId) {
        reply.stop('cancelled');
      }
    });
  }

  /** The job's reply stops: another instance took the job over and has ended the reply. */
  lose(job: ReplyJob): void {
    const reply = this.liveJobs.get(job.id);
    if (reply) {
      this.logger.warn({ roomId: job.roomId, messageId: reply.message.id }, 'AI reply taken over by another instance');
      reply.stop('lost');
    }
  }

  /** Starts no more replies and stops those in flight, which are stored as they stand. */
  close(): void {
    this.closing = true;
    this.live.forEach((reply) => reply.stop('shutdown'));
  }

  /** Replies another instance had started and that were ended as failed here: their rooms hear it. */
  endedElsewhere(replies: MessageDto[]): void {
    for (const message of replies) {
      this.broadcaster.replyEnded(message);
      void this.partials.remove(message.id);
      this.metrics.aiReplies.inc({ outcome: message.error?.code ?? message.status });
    }
  }

  async write(job: ReplyJob): Promise<void> {
    if (this.closing) {
      return;
    }
    const started = performance.now();
    let message: MessageDto | undefined;
    try {
      message = await this.jobs.start(job.id, this.instanceId);
    } catch (error) {
      // The database is down: the job stays claimed until its lease runs out, then another claim tries again.
      this.logger.warn({ err: error, roomId: job.roomId, questionId: job.questionId }, 'AI reply not started');
      return;
    }
    if (!message) {
      // The room went away with its jobs, or another instance took this job over.
      return;
    }
    this.logger.info({ roomId: job.roomId, messageId: message.id, questionId: job.questionId }, 'AI reply started');
    this.broadcaster.toRoomInOrder(job.roomId, message.seq, 'message:new', { message });
    const reply = new LiveReply(message, this.broadcaster, this.partials.keeper(message.id));
    this.live.set(message.id, reply);
    this.liveJobs.set(job.id, reply);
    if (this.closing) {
      reply.stop('shutdown');
    }
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
        onText: () => this.checkpoint(job, reply),
      };
      outcome = await streamReply(this.provider, request, reply, this.policies, options, stats);
    } catch (error) {
      outcome = failureOf(error, reply.stopReason);
      if (outcome.unexpected) {
        this.logger.error({ err: error, roomId: job.roomId, messageId: message.id }, 'AI reply failed unexpectedly');
      }
    }
    await reply.settle();
    this.live.delete(message.id);
    this.liveJobs.delete(job.id);
    await this.finish(job, reply, outcome);
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
      // A model the operator no longer allows (OPENAI_MODELS) falls back to the default: the key is theirs.
      model: room.model !== null && this.config.ai.models.includes(room.model) ? room.model : this.config.ai.model,
      messages: await this.context.build(room, job.questionId),
      maxOutputTokens: this.config.ai.maxOutputTokens,
    };
  }

  /** Every few seconds of a long reply, its text so far is stored (a crash then loses at most that). */
  private checkpoint(job: ReplyJob, reply: LiveReply): void {
    const last = this.checkpoints.get(reply) ?? { at: performance.now(), done: Promise.resolve() };
    if (performance.now() - last.at < CHECKPOINT_EVERY_MS) {
      this.checkpoints.set(reply, last);
      return;
    }
    const done = last.done
      .then(() => this.jobs.checkpoint(job.id, this.instanceId, reply.content))
      .catch((error: unknown) => this.logger.warn({ err: error, messageId: reply.message.id }, 'AI checkpoint failed'));
    this.checkpoints.set(reply, { at: performance.now(), done });
  }

  private async finish(job: ReplyJob, reply: LiveReply, outcome: ReplyOutcome): Promise<void> {
    await this.checkpoints.get(reply)?.done;
    try {
      const stored = await this.jobs.finish(job.id, this.instanceId, reply.content, outcome);
      if (stored) {
        this.broadcaster.replyEnded(stored);
        // Checked when it ends (it streamed before any check): flagged, it is withheld like a user's message.
        this.moderator.afterStore(stored);
      }
    } catch (error) {
      // Its lease runs out, and whoever takes the job over ends the reply as failed with its last checkpoint.
      this.logger.error({ err: error, messageId: reply.message.id }, 'AI reply could not be stored');
    }
    await this.partials.remove(reply.message.id);
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
