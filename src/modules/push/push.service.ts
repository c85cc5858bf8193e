import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import type { MessageDto } from '../../common/messages/message';
import type { StoredMessageFacts } from '../../common/realtime/realtime-broadcaster';
import { APP_CONFIG, type AppConfig } from '../../config/app-config';
import { PresenceService } from '../chat/realtime/presence.service';
import { MetricsService } from '../metrics/metrics.service';
import { SocketBroadcaster } from '../chat/realtime/socket-broadcaster.service';
import { DevicesRepository, type PushTarget } from './devices.repository';
import { PushGate, type PushCandidate } from './push-gate.service';
import { notificationsFor } from './push-notification';

/**
 * Push notifications for members who are away (PROTOCOL.md §8). The broadcaster calls `messageStored` once per
 * message stored on this instance: a user message when it is stored, an assistant reply at its final status. It
 * never throws and never delays the send: the work runs afterwards, and its failures are only logged.
 *
 * Who gets one: a member of the room who did not write it (for an assistant reply, only the asker), has not muted
 * the room, has a device and has not read it, and has no socket in the room on any instance. With no socket at all
 * they get it at once; with sockets elsewhere (an app just put in the background keeps its connection for a while)
 * PUSH_DELAY_MS later, if it is still unread and still no socket of theirs is in the room. This instance decides, and
 * a delayed push waits in its memory: an instance that dies takes the pushes it was delaying with it.
 */
@Injectable()
export class PushService implements OnModuleInit, OnModuleDestroy {
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    @InjectPinoLogger(PushService.name) private readonly logger: PinoLogger,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly broadcaster: SocketBroadcaster,
    private readonly presence: PresenceService,
    private readonly devices: DevicesRepository,
    private readonly gate: PushGate,
    private readonly metrics: MetricsService,
  ) {}

  onModuleInit(): void {
    this.broadcaster.onStored((message, facts) => this.messageStored(message, facts));
  }

  onModuleDestroy(): void {
    this.timers.forEach(clearTimeout);
    this.timers.clear();
  }

  messageStored(message: MessageDto, facts: StoredMessageFacts): void {
    if (message.role === 'system') {
      return;
    }
    if (!this.config.push.enabled) {
      // Counted, so that an operator (and a test) sees the messages that pushes were off for.
      this.metrics.pushNotifications.inc({ outcome: 'disabled' });
      return;
    }
    // Nobody may get one when the database said, as it stored it, that no other member has a device (and the room
    // unmuted): most messages, where no member uses the mobile app. Nothing more is asked then.
    if (facts.pushCandidates === false) {
      return;
    }
    setImmediate(() => void this.guarded(message, () => this.consider(message)));
  }

  private async consider(message: MessageDto): Promise<void> {
    const targets = await this.away(message);
    const sockets = await Promise.all(targets.map((target) => this.presence.socketCount(target.profileId)));
    const later = new Set<string>();
    targets.forEach((target, i) => {
      if (sockets[i] === 0) {
        void this.gate.offer(this.candidate(message, target));
      } else {
        later.add(target.profileId);
      }
    });
    if (later.size > 0) {
      this.after(this.config.push.delayMs, message, () => this.reconsider(message, later));
    }
  }

  /** The delay is over: those who still have not read it, and have not come into the room, get it now. */
  private async reconsider(message: MessageDto, who: Set<string>): Promise<void> {
    for (const target of await this.away(message)) {
      if (who.has(target.profileId)) {
        void this.gate.offer(this.candidate(message, target));
      }
    }
  }

  /** The members who may get a push for the message now, but those with a socket in its room. */
  private async away(message: MessageDto): Promise<PushTarget[]> {
    const targets = await this.devices.targets(message.id);
    if (targets.length === 0) {
      return [];
    }
    const inRoom = new Set(await this.presence.online(message.roomId));
    return targets.filter((target) => !inRoom.has(target.profileId));
  }

  private candidate(message: MessageDto, target: PushTarget): PushCandidate {
    const subject = { message, roomName: target.roomName, senderName: target.senderName };
    return {
      profileId: target.profileId,
      roomId: message.roomId,
      seq: message.seq,
      build: (folded) => notificationsFor(subject, target.tokens, { preview: this.config.push.preview, folded }),
      recheck: async () => {
        const fresh = (await this.away(message)).find((t) => t.profileId === target.profileId);
        return fresh && this.candidate(message, fresh);
      },
    };
  }

  private after(ms: number, message: MessageDto, work: () => Promise<void>): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      void this.guarded(message, work);
    }, ms);
    timer.unref();
    this.timers.add(timer);
  }

  /** Logs a failure with the room and seq, never the content. */
  private async guarded(message: MessageDto, work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (error) {
      this.logger.warn({ err: error, roomId: message.roomId, seq: message.seq }, 'push decision failed');
    }
  }
}
