import { Inject, Injectable } from '@nestjs/common';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { AppException } from '../../../common/errors/app.exception';
import type { MessageDto } from '../../../common/messages/message';
import { RateLimiter } from '../../../common/rate-limit/rate-limiter.service';
import { APP_CONFIG, type AppConfig } from '../../../config/app-config';
import { AiReplyService } from '../../ai/ai-reply.service';
import type { UserActor } from '../../persistence/database.port';
import type { RoomDto } from '../dto/room.dto';
import { MessagesRepository } from '../messages.repository';
import { RoomsRepository } from '../rooms.repository';
import { PresenceService } from './presence.service';
import { RoomFeed } from './room-feed.service';
import { TypingService } from './typing.service';

const TYPING_WINDOW_MS = 10_000;

/** How a caller's socket is put into a room's channel and taken out of it again. */
export interface Subscription {
  subscribe(): Promise<void>;
  unsubscribe(): Promise<void>;
  /** Whether the socket is in the room's channel already (it proved membership when it joined). */
  readonly subscribed: boolean;
}

export interface JoinResult {
  room: RoomDto;
  messages: MessageDto[];
  hasMore: boolean;
  online: string[];
  /** With afterRev: the room's last rev when the changes were read. */
  lastRev?: number;
}

/**
 * What a member's socket does in a room besides sending (PROTOCOL.md §4): join (subscribe, then read the
 * backlog, with each streaming reply's text so far and who is online), typing, and stopping a reply.
 */
@Injectable()
export class RoomSessionService {
  constructor(
    @InjectPinoLogger(RoomSessionService.name) private readonly logger: PinoLogger,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly rooms: RoomsRepository,
    private readonly messages: MessagesRepository,
    private readonly presence: PresenceService,
    private readonly typing: TypingService,
    private readonly feed: RoomFeed,
    private readonly aiReplies: AiReplyService,
    private readonly rateLimiter: RateLimiter,
  ) {}

  async join(
    actor: UserActor,
    roomId: string,
    page: { afterSeq?: number; afterRev?: number; limit?: number },
    socket: Subscription,
  ): Promise<JoinResult> {
    // The room's events are kept from before its last seq is read: one stored meanwhile is neither lost nor waited for.
    this.feed.watch(roomId);
    let room: RoomDto;
    try {
      room = await this.rooms.get(actor, roomId);
      if (room.myRole === null) {
        throw AppException.notFound('Room');
      }
    } catch (error) {
      this.feed.abandon(roomId);
      throw error;
    }
    // This instance's subscribers of the room hold (or read below) every seq up to the room's last one.
    this.feed.track(roomId, room.lastSeq);
    // Subscribe first, then read: a message stored in between arrives as an event or in the backlog.
    await socket.subscribe();
    try {
      const limit = page.limit ?? 50;
      const backlog: { messages: MessageDto[]; hasMore: boolean; lastRev?: number } =
        page.afterRev === undefined
          ? await this.messages.page(actor, roomId, { afterSeq: page.afterSeq, limit })
          : await this.messages.changes(actor, roomId, page.afterRev, limit);
      // A reply still streaming comes with the text its deltas have carried so far, wherever it is generated.
      const messages = await Promise.all(
        backlog.messages.map(async (m) =>
          m.status === 'streaming' ? { ...m, content: (await this.aiReplies.partial(m.id)) ?? m.content } : m,
        ),
      );
      // Who is online in the room now (the joiner included); `presence` events tell the changes from here on.
      await this.presence.settled(roomId, actor.id);
      const online = await this.presence.online(roomId);
      const result = { room, messages, hasMore: backlog.hasMore, online };
      return backlog.lastRev === undefined ? result : { ...result, lastRev: backlog.lastRev };
    } catch (error) {
      await socket.unsubscribe();
      throw error;
    }
  }

  /**
   * The ids of the caller's rooms, for their socket's inbox. Without the database (an outage) the socket
   * connects all the same, with an empty inbox: it still gets the rooms it joins, and `GET /api/rooms` tells it
   * what it missed.
   */
  async inboxRooms(actor: UserActor): Promise<string[]> {
    try {
      return await this.rooms.myRoomIds(actor);
    } catch (error) {
      this.logger.warn({ err: error, userId: actor.id }, 'Inbox not read: the socket hears only rooms it joins');
      return [];
    }
  }

  async typingUpdate(actor: UserActor, roomId: string, isTyping: boolean, socket: Subscription): Promise<void> {
    const rate = await this.rateLimiter.consume('typing', actor.id, this.config.rates.typingPer10s, TYPING_WINDOW_MS);
    if (!rate.allowed) {
      throw AppException.rateLimited(rate.retryAfterMs);
    }
    // A subscribed socket proved membership at join (removal unsubscribes it); otherwise ask the database.
    if (!socket.subscribed) {
      const room = await this.rooms.get(actor, roomId);
      if (room.myRole === null) {
        throw AppException.notFound('Room');
      }
    }
    await this.typing.update(roomId, actor.id, isTyping);
  }

  /** Members only, and only assistant messages of that room; one that already ended stays as it is. */
  async stopReply(actor: UserActor, roomId: string, messageId: string): Promise<void> {
    const message = await this.messages.get(actor, roomId, messageId);
    if (!message || message.role !== 'assistant') {
      throw AppException.notFound('Assistant message');
    }
    await this.aiReplies.stop(roomId, messageId);
  }
}
