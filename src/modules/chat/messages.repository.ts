import { Inject, Injectable } from '@nestjs/common';
import { DATABASE, type Actor, type Database, type UserActor } from '../persistence/database.port';
import { toMessage, type MessageRow } from './chat.mappers';
import type { AiMode } from '../ai/mentions';
import type { ChangesPageDto, MessageDto } from './dto/message.dto';
import type { Withhold } from '../moderation/content-moderator.service';

export interface PageRequest {
  afterSeq?: number;
  beforeSeq?: number;
  limit: number;
}

type PostedRow = MessageRow & { duplicate: boolean; room_ai_mode: AiMode | null; push_candidates?: boolean | null };

@Injectable()
export class MessagesRepository {
  constructor(@Inject(DATABASE) private readonly db: Database) {}

  /**
   * Stores a user message with the room's next seq; a repeated clientId returns the stored one. `withhold` stores it
   * withheld (pre-moderation): the answer still holds its text, for its author.
   */
  async post(
    actor: UserActor,
    roomId: string,
    content: string,
    clientId: string | null,
    withhold?: Withhold,
  ): Promise<{ message: MessageDto; duplicate: boolean; roomAiMode: AiMode | null; pushCandidates?: boolean }> {
    // Concurrent sends share a transaction when the driver can (group commit); each is still its own.
    const [row] = await this.db.callGrouped<PostedRow>(actor, 'post_message', {
      p_room_id: roomId,
      p_content: content,
      p_client_id: clientId,
      p_withhold: withhold ?? null,
    });
    return {
      message: toMessage(row),
      duplicate: row.duplicate,
      roomAiMode: row.room_ai_mode,
      // Only a group commit says (absent from a call alone, and through PostgREST; null for a repeat).
      pushCandidates: row.push_candidates ?? undefined,
    };
  }

  /** A message of a room the caller is a member of, or undefined. */
  async get(actor: Actor, roomId: string, messageId: string): Promise<MessageDto | undefined> {
    const [row] = await this.db.call<MessageRow>(actor, 'get_message', { p_room_id: roomId, p_message_id: messageId });
    return row ? toMessage(row) : undefined;
  }

  /** The caller's own message in the room with this client id, if one was stored. */
  async findMine(actor: Actor, roomId: string, clientId: string): Promise<MessageDto | undefined> {
    const [row] = await this.db.call<MessageRow>(actor, 'find_my_message', {
      p_room_id: roomId,
      p_client_id: clientId,
    });
    return row ? toMessage(row) : undefined;
  }

  /** A page in ascending seq: the oldest page above afterSeq, else the newest below beforeSeq (or the newest). */
  async page(
    actor: Actor,
    roomId: string,
    request: PageRequest,
  ): Promise<{ messages: MessageDto[]; hasMore: boolean }> {
    const rows = await this.db.call<MessageRow>(actor, 'list_messages', {
      p_room_id: roomId,
      p_after_seq: request.afterSeq ?? null,
      p_before_seq: request.beforeSeq ?? null,
      p_limit: request.limit,
    });
    const hasMore = rows.length > request.limit;
    // The function returns one row more than asked for on the far side of the page.
    const page = hasMore ? (request.afterSeq !== undefined ? rows.slice(0, request.limit) : rows.slice(1)) : rows;
    return { messages: await this.withMine(actor, roomId, page.map(toMessage)), hasMore };
  }

  /** The author's edit of their message within `windowSeconds`; the room's last seq tells whether it is the last. */
  async edit(
    actor: UserActor,
    roomId: string,
    messageId: string,
    content: string,
    windowSeconds: number,
    withhold?: Withhold,
  ) {
    const [row] = await this.db.call<{ room_last_seq: number; message: MessageRow }>(actor, 'edit_message', {
      p_room_id: roomId,
      p_message_id: messageId,
      p_content: content,
      p_window_seconds: windowSeconds,
      p_withhold: withhold ?? null,
    });
    return { message: toMessage(row.message), lastSeq: Number(row.room_last_seq), changed: true };
  }

  /** Deletes a message (its author, or the room's owner): the tombstone, and whether this call deleted it. */
  async delete(actor: UserActor, roomId: string, messageId: string) {
    const [row] = await this.db.call<{ room_last_seq: number; changed: boolean; message: MessageRow }>(
      actor,
      'delete_message',
      { p_room_id: roomId, p_message_id: messageId },
    );
    return { message: toMessage(row.message), lastSeq: Number(row.room_last_seq), changed: row.changed };
  }

  /** Adds or takes back the caller's reaction; `changed` is false when it was already so. */
  async react(actor: UserActor, roomId: string, messageId: string, emoji: string, add: boolean) {
    const [row] = await this.db.call<{ changed: boolean; message: MessageRow }>(
      actor,
      add ? 'add_reaction' : 'remove_reaction',
      { p_room_id: roomId, p_message_id: messageId, p_emoji: emoji },
    );
    return { message: toMessage(row.message), changed: row.changed };
  }

  /** The room's messages changed after `afterRev`, each once, in rev order, and the room's last rev. */
  async changes(actor: Actor, roomId: string, afterRev: number, limit: number): Promise<ChangesPageDto> {
    const rows = await this.db.call<{ last_rev: number; message: MessageRow | null }>(actor, 'list_changes', {
      p_room_id: roomId,
      p_after_rev: afterRev,
      p_limit: limit,
    });
    // Every row carries the room's last rev; an empty page is one row without a message.
    const messages = rows.flatMap((row) => (row.message ? [toMessage(row.message)] : []));
    const hasMore = messages.length > limit;
    return {
      messages: await this.withMine(actor, roomId, messages.slice(0, limit)),
      hasMore,
      lastRev: Number(rows[0]?.last_rev ?? afterRev),
    };
  }

  /**
   * The messages with `myReactions`, the emoji the caller reacted with, on those it reacted to. One query, and
   * none when no message of the page has reactions. Not for the service (it reacts as nobody).
   */
  private async withMine(actor: Actor, roomId: string, messages: MessageDto[]): Promise<MessageDto[]> {
    const reacted = messages.filter((m) => m.reactions);
    if (actor.kind !== 'user' || reacted.length === 0) {
      return messages;
    }
    const rows = await this.db.call<{ message_id: string; emoji: string }>(actor, 'my_reactions', {
      p_room_id: roomId,
      p_message_ids: reacted.map((m) => m.id),
    });
    const mine = new Map<string, string[]>();
    for (const row of rows) {
      mine.set(row.message_id, [...(mine.get(row.message_id) ?? []), row.emoji]);
    }
    return messages.map((m) => (mine.has(m.id) ? { ...m, myReactions: mine.get(m.id) } : m));
  }
}
