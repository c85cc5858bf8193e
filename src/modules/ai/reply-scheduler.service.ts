import { Inject, Injectable } from '@nestjs/common';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import type { MessageDto } from '../../common/messages/message';
import { APP_CONFIG, type AppConfig } from '../../config/app-config';
import { INSTANCE_ID } from '../cluster/cluster.tokens';
import { AiJobsRepository, type ReplyJob } from './ai-jobs.repository';

export interface JobHandlers {
  /** Produces the reply of a job this instance claimed; resolves once the job has ended. */
  run(job: ReplyJob): Promise<void>;
  /** Another instance took the job over (this one was taken for gone): its reply stops, and nothing of it is stored. */
  lost(job: ReplyJob): void;
  /** Replies that instances which went away had started, ended here as failed. */
  ended(replies: MessageDto[]): void;
}

/**
 * Which replies this instance generates: it claims jobs from the durable queue (when one was queued here, when
 * another instance wakes it, and every AI_POLL_MS), up to AI_MAX_CONCURRENT at once (and AI_MAX_CONCURRENT_PER_USER per user, across instances), renews the leases of
 * those it holds every AI_LEASE_MS / 3, and takes over the jobs whose lease ran out. The lease alone says who holds
 * a job, not the instance registry: an instance that lost Redis for a while still writes its replies to the database.
 */
@Injectable()
export class ReplyScheduler {
  private readonly held = new Map<string, { job: ReplyJob; done: Promise<void> }>();
  private handlers?: JobHandlers;
  private claiming?: Promise<void>;
  private claimAgain = false;
  private renewing?: Promise<void>;
  private polling?: Promise<void>;
  private pollTimer?: NodeJS.Timeout;
  private renewTimer?: NodeJS.Timeout;
  private closing = false;

  constructor(
    @InjectPinoLogger(ReplyScheduler.name) private readonly logger: PinoLogger,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(INSTANCE_ID) private readonly instanceId: string,
    private readonly jobs: AiJobsRepository,
  ) {}

  start(handlers: JobHandlers): void {
    this.handlers = handlers;
    const { pollMs, leaseMs } = this.config.ai;
    this.pollTimer = setInterval(() => this.pollNow(), pollMs).unref();
    this.renewTimer = setInterval(
      () => {
        this.renewing ??= this.renew().finally(() => (this.renewing = undefined));
      },
      Math.max(50, Math.floor(leaseMs / 3)),
    ).unref();
    this.pollNow();
  }

  /** Claims now (or right after the claim in flight); false when this instance takes no more jobs now. */
  wake(): boolean {
    if (this.closing || !this.handlers || this.held.size >= this.config.ai.maxConcurrent) {
      return false;
    }
    if (this.claiming) {
      this.claimAgain = true;
      return true;
    }
    this.claiming = this.claim().finally(() => {
      this.claiming = undefined;
      if (this.claimAgain) {
        this.claimAgain = false;
        this.wake();
      }
    });
    return true;
  }

  /**
   * Claims no more jobs (a drain: other instances claim them, or this one's next start); the leases of the jobs
   * held here are still renewed while their replies finish.
   */
  stopClaiming(): void {
    this.closing = true;
    clearInterval(this.pollTimer);
  }

  /** Resolves once every job this instance holds now has ended. */
  async idle(): Promise<void> {
    await Promise.all([this.claiming, this.polling]);
    await Promise.allSettled([...this.held.values()].map((held) => held.done));
  }

  /**
   * Stops claiming and resolves once every job this instance holds has ended (the caller stops their replies);
   * a job claimed but never started goes back to the queue, for another instance or the next start.
   */
  async close(): Promise<void> {
    this.closing = true;
    clearInterval(this.pollTimer);
    clearInterval(this.renewTimer);
    await this.idle();
    await this.renewing;
    await this.takeOver({ owner: this.instanceId });
  }

  /** Ends the jobs whose holder is gone (see AiJobsRepository.takeOver); their rooms hear of the replies it ended. */
  async takeOver(scope: { owner?: string; all?: boolean }): Promise<void> {
    try {
      const ended = await this.jobs.takeOver(scope);
      if (ended.length > 0) {
        this.logger.warn(
          { replies: ended.length, ownerId: scope.owner },
          'AI replies of a stopped server marked failed',
        );
        this.handlers?.ended(ended);
      }
    } catch (error) {
      this.logger.warn({ err: error }, 'AI jobs not taken over');
    }
  }

  /** One look for work at a time: jobs to take over, then jobs to claim. */
  private pollNow(): void {
    this.polling ??= this.poll().finally(() => (this.polling = undefined));
  }

  private async poll(): Promise<void> {
    if (this.closing) {
      return;
    }
    await this.takeOver({});
    this.wake();
  }

  private async claim(): Promise<void> {
    const handlers = this.handlers;
    const free = this.config.ai.maxConcurrent - this.held.size;
    if (!handlers || this.closing || free <= 0) {
      return;
    }
    let jobs: ReplyJob[];
    try {
      jobs = await this.jobs.claim(this.instanceId, free, this.config.ai.leaseMs, this.config.ai.maxConcurrentPerUser);
    } catch (error) {
      this.logger.warn({ err: error }, 'AI jobs not claimed');
      return;
    }
    for (const job of jobs) {
      const done = handlers
        .run(job)
        .catch((error: unknown) => this.logger.error({ err: error, jobId: job.id }, 'AI job failed'))
        .finally(() => {
          this.held.delete(job.id);
          // The room's next job, or one that waited for room here.
          this.wake();
        });
      this.held.set(job.id, { job, done });
    }
  }

  /** Extends the leases of the jobs held here; one that is not extended was taken over, and its reply stops. */
  private async renew(): Promise<void> {
    if (this.held.size === 0) {
      return;
    }
    const asked = [...this.held.values()];
    let kept: Set<string>;
    try {
      kept = await this.jobs.renew(
        this.instanceId,
        asked.map(({ job }) => job.id),
        this.config.ai.leaseMs,
      );
    } catch (error) {
      this.logger.warn({ err: error }, 'AI leases not renewed');
      return;
    }
    for (const { job } of asked) {
      if (!kept.has(job.id) && this.held.has(job.id)) {
        this.handlers?.lost(job);
      }
    }
  }
}
