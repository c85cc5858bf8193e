import { Inject, Injectable } from '@nestjs/common';
import { AppException } from '../../../common/errors/app.exception';
import { toMessage, type MessageRow } from '../../../common/messages/message';
import { isoTimestamp } from '../../../common/messages/timestamp';
import { RateLimiter } from '../../../common/rate-limit/rate-limiter.service';
import { APP_CONFIG, type AppConfig } from '../../../config/app-config';
import { DATABASE, type Database, type UserActor } from '../../persistence/database.port';
import type { ReportDto, ReportListDto, ReportStatus } from './report.dto';

const WINDOW_MS = 10_000;
const MAX_REASON = 1000;

/** A report as the SQL functions build it (`chat_private.report_view`). */
interface ReportJson extends Omit<ReportDto, 'createdAt' | 'updatedAt'> {
  createdAt: string;
  updatedAt: string;
}

const toReport = (json: ReportJson): ReportDto => ({
  ...json,
  createdAt: isoTimestamp(json.createdAt),
  updatedAt: isoTimestamp(json.updatedAt),
});

/**
 * Reports of messages (PROTOCOL.md §3 "Reports"). A member reports a message once (the database keeps one per
 * person and message); the room's owner lists and resolves them. The reporter is never part of what is returned.
 */
@Injectable()
export class ReportsService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(DATABASE) private readonly db: Database,
    private readonly rateLimiter: RateLimiter,
  ) {}

  /** `created` is false when the caller had reported the message already (that report, unchanged). */
  async report(actor: UserActor, messageId: string, reason: string): Promise<{ report: ReportDto; created: boolean }> {
    const text = reason.trim();
    if (text.length === 0 || text.length > MAX_REASON) {
      throw AppException.validation([{ field: 'reason', message: `must be 1 to ${MAX_REASON} characters` }]);
    }
    // As large a budget as sends, its own, before the database.
    const rate = await this.rateLimiter.consume('report', actor.id, this.config.rates.sendPer10s, WINDOW_MS);
    if (!rate.allowed) {
      throw AppException.rateLimited(rate.retryAfterMs);
    }
    const [row] = await this.db.call<{ created: boolean; report: ReportJson }>(actor, 'report_message', {
      p_message_id: messageId,
      p_reason: text,
    });
    return { report: toReport(row.report), created: row.created };
  }

  async list(
    actor: UserActor,
    roomId: string,
    query: { status?: ReportStatus | 'all'; before?: string; limit?: number },
  ): Promise<ReportListDto> {
    const limit = query.limit ?? 50;
    const status = query.status ?? 'open';
    const rows = await this.db.call<{ report: ReportJson; message: MessageRow; reports: number }>(
      actor,
      'list_reports',
      { p_room_id: roomId, p_status: status === 'all' ? null : status, p_limit: limit, p_before: query.before ?? null },
    );
    return {
      reports: rows.slice(0, limit).map((row) => ({
        ...toReport(row.report),
        message: toMessage(row.message),
        reports: Number(row.reports),
      })),
      hasMore: rows.length > limit,
    };
  }

  async setStatus(actor: UserActor, roomId: string, reportId: string, status: ReportStatus): Promise<ReportDto> {
    const [row] = await this.db.call<{ report: ReportJson }>(actor, 'set_report_status', {
      p_room_id: roomId,
      p_report_id: reportId,
      p_status: status,
    });
    return toReport(row.report);
  }
}
