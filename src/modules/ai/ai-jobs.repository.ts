import { Inject, Injectable } from '@nestjs/common';
import { toMessage, type MessageDto, type MessageRow } from '../../common/messages/message';
import { DATABASE, SERVICE_ACTOR, type Database, type UserActor } from '../persistence/database.port';
import type { ReplyOutcome } from './reply-outcome';

/** One reply asked for, as a claimed job carries it (migrations/20261130000100_ai_jobs.sql). */
export interface ReplyJob {
  id: string;
  roomId: string;
  questionId: string;
  questionSeq: number;
  askedBy: string | null;
  /** Set when the asker was over their AI reply limit: the reply is still made, as failed. */
  overLimitMs?: number;
}

export interface NewReplyJob {
  questionId: string;
  askedBy: string;
  overLimitMs?: number;
}

/** A request for a new answer: the question it answers, and whether it was queued now (false: one already waits). */
export interface AnswerRequest {
  questionId: string;
  queued: boolean;
}

interface ClaimedRow {
  job_id: string;
  room_id: string;
  question_id: string;
  question_seq: number;
  asked_by: string | null;
  over_limit_ms: number | null;
}

/**
 * The durable queue of replies: one job per asking message, claimed by one instance at a time under a lease.
 * Every write of a job's reply names the instance (`owner`) and does nothing once the job is no longer its own.
 */
@Injectable()
export class AiJobsRepository {
  constructor(@Inject(DATABASE) private readonly db: Database) {}

  /** True when the job was queued now; false when the question already had one (or a reply). */
  async enqueue(job: NewReplyJob): Promise<boolean> {
    const rows = await this.db.call(SERVICE_ACTOR, 'ai_enqueue_job', {
      p_question_id: job.questionId,
      p_asked_by: job.askedBy,
      p_over_limit_ms: job.overLimitMs === undefined ? null : Math.ceil(job.overLimitMs),
    });
    return rows.length > 0;
  }

  /**
   * A member's request for a new answer (`request_answer`): to the question an assistant reply answers, or to a user
   * message itself. The database checks membership and that the question is there and the room's assistant on.
   * `queued` is false when a request for that question already waits (it answers the question as it stands).
   */
  async request(actor: UserActor, roomId: string, messageId: string): Promise<AnswerRequest> {
    const [row] = await this.db.call<{ question_id: string; queued: boolean }>(actor, 'request_answer', {
      p_room_id: roomId,
      p_message_id: messageId,
    });
    return { questionId: row.question_id, queued: row.queued };
  }

  /**
   * Up to `limit` jobs, at most one per room (the head of its queue, when no other of the room runs), and none of a
   * user who has `perUser` replies in progress already (on any instance).
   */
  async claim(owner: string, limit: number, leaseMs: number, perUser = 2_147_483_647): Promise<ReplyJob[]> {
    const rows = await this.db.call<ClaimedRow>(SERVICE_ACTOR, 'ai_claim_jobs', {
      p_owner: owner,
      p_limit: limit,
      p_lease_ms: leaseMs,
      p_user_limit: perUser,
    });
    return rows.map((row) => ({
      id: row.job_id,
      roomId: row.room_id,
      questionId: row.question_id,
      questionSeq: Number(row.question_seq),
      askedBy: row.asked_by,
      ...(row.over_limit_ms === null ? {} : { overLimitMs: row.over_limit_ms }),
    }));
  }

  /** Extends the leases of these jobs of the owner; the ids of those it still holds. */
  async renew(owner: string, jobIds: string[], leaseMs: number): Promise<Set<string>> {
    const rows = await this.db.call<{ job_id: string }>(SERVICE_ACTOR, 'ai_renew_jobs', {
      p_owner: owner,
      p_job_ids: jobIds,
      p_lease_ms: leaseMs,
    });
    return new Set(rows.map((row) => row.job_id));
  }

  /** The reply's assistant message, created streaming; undefined when the job is no longer the owner's. */
  async start(jobId: string, owner: string): Promise<MessageDto | undefined> {
    const [row] = await this.db.call<MessageRow>(SERVICE_ACTOR, 'ai_start_job', { p_job_id: jobId, p_owner: owner });
    return row ? toMessage(row) : undefined;
  }

  async checkpoint(jobId: string, owner: string, content: string): Promise<void> {
    await this.db.call(SERVICE_ACTOR, 'ai_checkpoint_job', { p_job_id: jobId, p_owner: owner, p_content: content });
  }

  /** Ends the job; the reply as stored, undefined when it had none or the job was taken over. */
  async finish(
    jobId: string,
    owner: string,
    content: string,
    outcome: Pick<ReplyOutcome, 'status' | 'error'>,
  ): Promise<MessageDto | undefined> {
    const [row] = await this.db.call<MessageRow>(SERVICE_ACTOR, 'ai_finish_job', {
      p_job_id: jobId,
      p_owner: owner,
      p_content: content,
      p_status: outcome.status,
      p_error_code: outcome.error?.code ?? null,
      p_error_message: outcome.error?.message ?? null,
    });
    return row ? toMessage(row) : undefined;
  }

  /**
   * Takes over the running jobs whose lease expired, and every one of `owner` (gone) or, with `all`, every one
   * at all; the replies this ended (failed), for their rooms to hear.
   */
  async takeOver(scope: { owner?: string; all?: boolean } = {}): Promise<MessageDto[]> {
    const rows = await this.db.call<MessageRow>(SERVICE_ACTOR, 'ai_take_over_jobs', {
      p_owner: scope.owner ?? null,
      p_all: scope.all ?? false,
    });
    return rows.map(toMessage);
  }
}
