import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { RateLimiter } from '../../common/rate-limit/rate-limiter.service';
import { APP_CONFIG, type AppConfig } from '../../config/app-config';
import { MetricsService } from '../metrics/metrics.service';
import type { PushMessage } from './expo-push.client';
import { PushSender } from './push-sender.service';

const MINUTE_MS = 60_000;

/** A push that one member should get now for a message of a room. */
export interface PushCandidate {
  profileId: string;
  roomId: string;
  seq: number;
  /** The notifications, one per device; `folded` is how many messages this push stands for. */
  build(folded: number): PushMessage[];
  /** Asked when a folded push is due: the push as it stands then, or none (read meanwhile, in the room, muted). */
  recheck(): Promise<PushCandidate | undefined>;
}

interface Fold {
  candidate: PushCandidate;
  count: number;
}

/**
 * The per-member rate rule: at most one push per member and room per PUSH_ROOM_INTERVAL_MS, and at most
 * PUSH_MAX_PER_MINUTE per member over all rooms. A push the rule holds back is folded: the room's later messages join
 * it, and when the rule allows, one push for the latest of them goes, if it is still unread and its member still
 * away. The counts are kept with the other rate limits (in Redis with several instances); a fold waits on the
 * instance that stored its first message.
 */
@Injectable()
export class PushGate implements OnModuleDestroy {
  private readonly folds = new Map<string, Fold>();
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    @InjectPinoLogger(PushGate.name) private readonly logger: PinoLogger,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly limiter: RateLimiter,
    private readonly sender: PushSender,
    private readonly metrics: MetricsService,
  ) {}

  /** Sends the push now, or folds it; never throws. */
  async offer(candidate: PushCandidate, folded = 1): Promise<void> {
    const key = `${candidate.profileId}:${candidate.roomId}`;
    const pending = this.folds.get(key);
    if (pending) {
      if (candidate.seq > pending.candidate.seq) {
        pending.candidate = candidate;
      }
      pending.count += folded;
      this.metrics.pushNotifications.inc({ outcome: 'folded' });
      return;
    }
    try {
      const { roomIntervalMs, maxPerMinute } = this.config.push;
      const room = await this.limiter.consume('push-room', key, 1, roomIntervalMs);
      const member = room.allowed
        ? await this.limiter.consume('push-member', candidate.profileId, maxPerMinute, MINUTE_MS)
        : room;
      if (member.allowed) {
        this.sender.send(candidate.build(folded));
      } else {
        this.fold(key, candidate, folded, member.retryAfterMs);
      }
    } catch (error) {
      this.logger.warn({ err: error, roomId: candidate.roomId }, 'push not offered');
    }
  }

  onModuleDestroy(): void {
    this.timers.forEach(clearTimeout);
    this.timers.clear();
    this.folds.clear();
  }

  private fold(key: string, candidate: PushCandidate, count: number, waitMs: number): void {
    this.folds.set(key, { candidate, count });
    this.metrics.pushNotifications.inc({ outcome: 'folded' });
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      void this.release(key);
    }, waitMs);
    timer.unref();
    this.timers.add(timer);
  }

  private async release(key: string): Promise<void> {
    const fold = this.folds.get(key);
    this.folds.delete(key);
    if (!fold) {
      return;
    }
    try {
      const fresh = await fold.candidate.recheck();
      if (fresh) {
        await this.offer(fresh, fold.count);
      }
    } catch (error) {
      this.logger.warn({ err: error, roomId: fold.candidate.roomId }, 'folded push not sent');
    }
  }
}
