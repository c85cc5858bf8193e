import { Inject, Injectable } from '@nestjs/common';
import { AppException } from '../../common/errors/app.exception';
import { AiReplyService } from '../ai/ai-reply.service';
import { APP_CONFIG, type AppConfig } from '../../config/app-config';
import { REALTIME_BROADCASTER, type RealtimeBroadcaster } from '../../common/realtime/realtime-broadcaster';
import type { UserActor } from '../persistence/database.port';
import type { MemberDto } from './dto/member.dto';
import type { RoomDto } from './dto/room.dto';
import { PresenceService } from './realtime/presence.service';
import { TypingService } from './realtime/typing.service';
import { RoomsRepository, type RoomFields } from './rooms.repository';

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
  ) {}

  async create(actor: UserActor, fields: RoomFields & { name: string }): Promise<RoomDto> {
    this.checkModel(fields);
    return this.rooms.create(actor, fields);
  }

  async update(actor: UserActor, roomId: string, fields: RoomFields): Promise<RoomDto> {
    this.checkModel(fields);
    const room = await this.rooms.update(actor, roomId, fields);
    // Everyone gets the same event, so it carries no caller's role: each client keeps the role it knows.
    this.broadcaster.toRoom(roomId, 'room:updated', { room: { ...room, myRole: null } });
    return room;
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
    // The new member is not subscribed yet: their own sockets learn of the room this way.
    this.broadcaster.toUser(member.profile.id, 'member:added', event);
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
