import { Inject, Injectable } from '@nestjs/common';
import { AppException } from '../../common/errors/app.exception';
import { RateLimiter } from '../../common/rate-limit/rate-limiter.service';
import { AiReplyService } from '../ai/ai-reply.service';
import { APP_CONFIG, type AppConfig } from '../../config/app-config';
import { REALTIME_BROADCASTER, type RealtimeBroadcaster } from '../../common/realtime/realtime-broadcaster';
import type { UserActor } from '../persistence/database.port';
import type { MemberDto } from './dto/member.dto';
import type { RoomDto } from './dto/room.dto';
import { PresenceService } from './realtime/presence.service';
import { TypingService } from './realtime/typing.service';
import { RoomsRepository, type RoomFields } from './rooms.repository';
import type { ReadStateDto } from './dto/room.dto';

const READ_WINDOW_MS = 10_000;

/**
 * Changes to rooms and memberships, and what the room's subscribers are told of them. A member who
 * leaves or is removed stops typing and is unsubscribed at once; a deleted room unsubscribes everyone.
 */
@Injectable()
export class RoomsService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly rooms: RoomsRepository,
    private readonly typing: TypingService,
    private readonly presence: PresenceService,
    @Inject(REALTIME_BROADCASTER) private readonly broadcaster: RealtimeBroadcaster,
    private readonly aiReplies: AiReplyService,
    private readonly rateLimiter: RateLimiter,
  ) {}

  async create(actor: UserActor, fields: RoomFields & { name: string }): Promise<RoomDto> {
    this.checkModel(fields);
    const room = await this.rooms.create(actor, fields);
    this.broadcaster.addToInbox(room.id, actor.id);
    return room;
  }

  async update(actor: UserActor, roomId: string, fields: RoomFields): Promise<RoomDto> {
    this.checkModel(fields);
    const room = await this.rooms.update(actor, roomId, fields);
    // Everyone gets the same event, so it carries nothing of the caller's own: each client keeps what it knows.
    const shared = { ...room, myRole: null, lastReadSeq: null, unread: null, muted: null };
    this.broadcaster.toRoom(roomId, 'room:updated', { room: shared });
    return room;
  }

  /**
   * Moves the caller's read pointer forward. When it moved, every socket of the caller hears it (badges on their
   * other devices) and, while the room shows receipts, the room's other subscribers get a receipt.
   */
  async markRead(actor: UserActor, roomId: string, seq: number): Promise<ReadStateDto> {
    const rate = await this.rateLimiter.consume('read', actor.id, this.config.rates.readPer10s, READ_WINDOW_MS);
    if (!rate.allowed) {
      throw AppException.rateLimited(rate.retryAfterMs);
    }
    const read = await this.rooms.markRead(actor, roomId, seq);
    if (read.moved) {
      this.broadcaster.toUser(actor.id, 'read:updated', { roomId, seq: read.lastReadSeq });
      if (read.readReceipts) {
        this.broadcaster.toRoom(
          roomId,
          'read:receipt',
          { roomId, profileId: actor.id, seq: read.lastReadSeq },
          actor.id,
        );
      }
    }
    return { roomId, lastReadSeq: read.lastReadSeq, unread: read.unread };
  }

  async setMuted(actor: UserActor, roomId: string, muted: boolean): Promise<RoomDto> {
    return this.rooms.setMuted(actor, roomId, muted);
  }

  async delete(actor: UserActor, roomId: string): Promise<void> {
    await this.rooms.delete(actor, roomId);
    // Its replies stop where they are generated: nobody is left to read them.
    this.aiReplies.stopRoom(roomId);
    this.broadcaster.toRoom(roomId, 'room:deleted', { roomId });
    // After room:deleted, nothing more of the room: its members go offline silently.
    this.presence.forgetRoom(roomId);
    await this.broadcaster.unsubscribeAll(roomId);
  }

  async join(actor: UserActor, roomId: string): Promise<RoomDto> {
    const before = await this.rooms.get(actor, roomId);
    const room = await this.rooms.join(actor, roomId);
    if (before.myRole === null) {
      this.broadcaster.toRoom(roomId, 'member:added', { roomId, profileId: actor.id });
      this.broadcaster.addToInbox(roomId, actor.id);
    }
    return room;
  }

  async leave(actor: UserActor, roomId: string): Promise<void> {
    await this.rooms.leave(actor, roomId);
    await this.memberGone(roomId, actor.id);
  }

  async addMember(actor: UserActor, roomId: string, username: string): Promise<MemberDto> {
    const member = await this.rooms.addMember(actor, roomId, username);
    const event = { roomId, profileId: member.profile.id };
    this.broadcaster.toRoom(roomId, 'member:added', event);
    // The new member is not subscribed yet: their own sockets learn of the room this way, and its activity from now on.
    this.broadcaster.toUser(member.profile.id, 'member:added', event);
    this.broadcaster.addToInbox(roomId, member.profile.id);
    return member;
  }

  async removeMember(actor: UserActor, roomId: string, profileId: string): Promise<void> {
    await this.rooms.removeMember(actor, roomId, profileId);
    await this.memberGone(roomId, profileId);
  }

  /** A room may choose only a model the operator allows (OPENAI_MODELS): replies are paid with the operator's key. */
  private checkModel(fields: RoomFields): void {
    const model = fields.ai?.model;
    if (typeof model === 'string' && !this.config.ai.models.includes(model)) {
      throw AppException.validation([
        {
          field: 'ai.model',
          message: `must be one of the models this server allows: ${this.config.ai.models.join(', ')}`,
        },
      ]);
    }
  }

  private async memberGone(roomId: string, profileId: string): Promise<void> {
    await this.typing.stop(roomId, profileId);
    this.broadcaster.toRoom(roomId, 'member:removed', { roomId, profileId });
    await this.broadcaster.unsubscribeMember(roomId, profileId);
  }
}
