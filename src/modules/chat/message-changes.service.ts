import { Inject, Injectable } from '@nestjs/common';
import { AppException } from '../../common/errors/app.exception';
import { RateLimiter } from '../../common/rate-limit/rate-limiter.service';
import { REALTIME_BROADCASTER, type RealtimeBroadcaster } from '../../common/realtime/realtime-broadcaster';
import { ErrorCode } from '../../common/errors/error-code';
import { APP_CONFIG, type AppConfig } from '../../config/app-config';
import { AiReplyService } from '../ai/ai-reply.service';
import { ContentModerator } from '../moderation/content-moderator.service';
import type { UserActor } from '../persistence/database.port';
import type { MessageDto } from './dto/message.dto';
import { checkedContent, checkedEmoji } from './message-content';
import { MessagesRepository } from './messages.repository';

const WINDOW_MS = 10_000;

/**
 * Changes to stored messages (PROTOCOL.md §3 "Editing and deleting", "Reactions"), for REST and sockets alike: the
 * input and the caller's rate are checked before the database is asked; the database checks who may do what and
 * gives the change the room's next rev; the room hears it (`message:updated`, or a `message:reaction` delta), which
 * is never new activity: no unread, no push.
 */
@Injectable()
export class MessageChangesService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly rateLimiter: RateLimiter,
    private readonly messages: MessagesRepository,
    @Inject(REALTIME_BROADCASTER) private readonly broadcaster: RealtimeBroadcaster,
    private readonly aiReplies: AiReplyService,
    private readonly moderator: ContentModerator,
  ) {}

  /**
   * The author's edit. With `rerun`, the assistant is asked again for an answer to the edited message (its next
   * version); `rerun` in the result tells whether it was (false: the room's assistant is off, or the message is no
   * question). The AI reply limit is checked with the edit's, before anything is stored.
   */
  async edit(
    actor: UserActor,
    roomId: string,
    messageId: string,
    content: string,
    rerun = false,
  ): Promise<{ message: MessageDto; rerun?: boolean }> {
    const text = checkedContent(content, this.config.messages.maxLength);
    await this.admit('edit', actor, this.config.rates.sendPer10s);
    if (rerun) {
      await this.aiReplies.admit(actor.id);
    }
    const window = this.config.messages.editWindowSeconds;
    const withhold = await this.moderator.beforeStore(text);
    const { message, lastSeq } = await this.messages.edit(actor, roomId, messageId, text, window, withhold);
    this.broadcaster.messageChanged(message, lastSeq);
    this.moderator.afterStore(message, withhold);
    if (message.withheld) {
      // A withheld question is no question for the assistant.
      return rerun ? { message, rerun: false } : { message };
    }
    if (!rerun) {
      return { message };
    }
    try {
      await this.aiReplies.request(actor, roomId, messageId);
      return { message, rerun: true };
    } catch (error) {
      if (error instanceof AppException && error.code === ErrorCode.CONFLICT) {
        return { message, rerun: false };
      }
      throw error;
    }
  }

  /** `ai:regenerate`: a new answer to the question of `messageId` (PROTOCOL.md §3 "Answering again"). */
  regenerate(actor: UserActor, roomId: string, messageId: string): Promise<{ questionId: string; queued: boolean }> {
    return this.aiReplies.regenerate(actor, roomId, messageId);
  }

  async delete(actor: UserActor, roomId: string, messageId: string): Promise<MessageDto> {
    await this.admit('edit', actor, this.config.rates.sendPer10s);
    const { message, lastSeq, changed } = await this.messages.delete(actor, roomId, messageId);
    if (changed) {
      this.broadcaster.messageChanged(message, lastSeq);
    }
    return message;
  }

  async react(actor: UserActor, roomId: string, messageId: string, emoji: string, add: boolean): Promise<MessageDto> {
    checkedEmoji(emoji);
    await this.admit('react', actor, this.config.rates.reactPer10s);
    const { message, changed } = await this.messages.react(actor, roomId, messageId, emoji, add);
    if (changed) {
      this.broadcaster.toRoom(roomId, 'message:reaction', {
        roomId,
        messageId,
        emoji,
        profileId: actor.id,
        added: add,
        count: message.reactions?.[emoji] ?? 0,
        rev: message.rev,
      });
    }
    return message;
  }

  /** The per-user budget, before any database work. Edits and deletes share one as large as the send limit. */
  private async admit(bucket: 'edit' | 'react', actor: UserActor, limit: number): Promise<void> {
    const rate = await this.rateLimiter.consume(bucket, actor.id, limit, WINDOW_MS);
    if (!rate.allowed) {
      throw AppException.rateLimited(rate.retryAfterMs);
    }
  }
}
