import { beforeDeadline } from '../../common/async/before-deadline';
import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { AppException } from '../../common/errors/app.exception';
import { RateLimiter } from '../../common/rate-limit/rate-limiter.service';
import type { MessageDto } from '../../common/messages/message';
import { APP_CONFIG, type AppConfig } from '../../config/app-config';
import type { UserActor } from '../persistence/database.port';
import { AiJobsRepository, type AnswerRequest } from './ai-jobs.repository';
import { asksForReply, type AiMode } from './mentions';
import { PartialReplies } from './partial-replies.store';
import { ReplyScheduler } from './reply-scheduler.service';
import { ReplySignals } from './reply-signals';
import { ReplyWriter } from './reply-writer.service';

const AI_WINDOW_MS = 60_000;

/**
 * The assistant's replies, as the rest of the app asks for them. A reply asked for is a job in the database (it
 * outlives the process that received the question); whichever instance claims it writes the reply, one at a time
 * per room in the order of the questions. `ai:stop` and a late joiner's text so far reach that instance's reply
 * from any instance (through Redis; in this process without it).
 */
@Injectable()
export class AiReplyService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly jobs: AiJobsRepository,
    private readonly scheduler: ReplyScheduler,
    private readonly writer: ReplyWriter,
    private readonly signals: ReplySignals,
    private readonly partials: PartialReplies,
    private readonly rateLimiter: RateLimiter,
  ) {}

  /** Starts taking jobs. A lone instance (no Redis) first ends what a stopped process of its own left behind. */
  async onApplicationBootstrap(): Promise<void> {
    if (!this.config.redisUrl) {
      // No other instance exists: every running job was this process's, before it stopped.
      await this.scheduler.takeOver({ all: true });
    }
    this.signals.listen({
      stop: (roomId, messageId) =>
        messageId === undefined ? this.writer.stopRoom(roomId) : this.writer.stop(roomId, messageId),
      wake: () => this.scheduler.wake(),
    });
    this.scheduler.start({
      run: (job) => this.writer.write(job),
      lost: (job) => this.writer.lose(job),
      ended: (replies) => this.writer.endedElsewhere(replies),
    });
  }

  /**
   * A drain: no new reply starts here from now on (jobs queued meanwhile are claimed by another instance, or by this
   * server's next start); resolves once the replies in flight have ended, or at `deadline` (epoch ms), when those
   * still streaming stop and are stored as they stand (`failed`, `AI_FAILED`; no other instance resumes them).
   */
  async drain(deadline: number): Promise<void> {
    this.scheduler.stopClaiming();
    const ended = this.scheduler.idle();
    const late = await beforeDeadline(
      ended.then(() => false),
      deadline - Date.now(),
      () => true,
    );
    if (late) {
      this.writer.close();
      await ended;
    }
  }

  /** Replies in flight stop and are stored as they stand; jobs not started stay queued for another instance. */
  async beforeApplicationShutdown(): Promise<void> {
    this.writer.close();
    await this.scheduler.close();
  }

  /** Queues a reply to a stored user message when the room's AI mode asks for one; resolves once the job is stored. */
  async consider(askedBy: string, question: MessageDto, mode: AiMode): Promise<void> {
    if (!asksForReply(mode, question.content)) {
      return;
    }
    const rate = await this.rateLimiter.consume('ai', askedBy, this.config.rates.aiPerMinute, AI_WINDOW_MS);
    const queued = await this.jobs.enqueue({
      questionId: question.id,
      askedBy,
      overLimitMs: rate.allowed ? undefined : rate.retryAfterMs,
    });
    if (queued) {
      this.announce();
    }
  }

  /**
   * A new answer asked for (`ai:regenerate`): to the question `messageId` answers, or to the user message
   * `messageId`. It comes as the question's next version. Refused over the caller's AI reply limit (see `admit`).
   */
  async regenerate(actor: UserActor, roomId: string, messageId: string): Promise<AnswerRequest> {
    await this.admit(actor.id);
    return this.request(actor, roomId, messageId);
  }

  /**
   * A request for an answer counts against the caller's AI reply limit, checked before any database work: over it,
   * it is refused (`RATE_LIMITED`) and nothing is queued. (A question over the limit is stored and answered failed
   * instead: see `consider`.)
   */
  async admit(userId: string): Promise<void> {
    const rate = await this.rateLimiter.consume('ai', userId, this.config.rates.aiPerMinute, AI_WINDOW_MS);
    if (!rate.allowed) {
      throw AppException.rateLimited(rate.retryAfterMs);
    }
  }

  /** Queues a new answer to the question of `messageId` (the caller was admitted); the database checks the rest. */
  async request(actor: UserActor, roomId: string, messageId: string): Promise<AnswerRequest> {
    const request = await this.jobs.request(actor, roomId, messageId);
    if (request.queued) {
      this.announce();
    }
    return request;
  }

  /** A job was queued: this instance claims it if it has room to, else every instance hears of it (Redis). */
  private announce(): void {
    if (!this.scheduler.wake()) {
      this.signals.wake();
    }
  }

  /** The text clients have been sent so far of a streaming reply, wherever it is generated; undefined if unknown. */
  async partial(messageId: string): Promise<string | undefined> {
    return this.writer.visible(messageId) ?? (await this.partials.read(messageId));
  }

  /**
   * Stops every reply of a room wherever it is generated: the room was deleted (the provider stream must not run to
   * its end for nobody). Its jobs went with it.
   */
  stopRoom(roomId: string): void {
    this.writer.stopRoom(roomId);
    this.signals.stop(roomId);
  }

  /** Stops a streaming reply wherever it is generated (it ends `cancelled`); nothing for one that has ended. */
  stop(roomId: string, messageId: string): Promise<void> {
    if (!this.writer.stop(roomId, messageId)) {
      this.signals.stop(roomId, messageId);
    }
    return Promise.resolve();
  }
}
