import { Inject, Injectable } from '@nestjs/common';
import { DATABASE, SERVICE_ACTOR, type Database } from '../persistence/database.port';
import { toMessage, type MessageDto, type MessageRow } from '../../common/messages/message';

export interface AiRoom {
  id: string;
  name: string;
  aiMode: 'off' | 'mention' | 'always';
  systemPrompt: string | null;
  model: string | null;
  memberCount: number;
}

export interface ContextRow {
  id: string;
  seq: number;
  role: 'user' | 'system' | 'assistant';
  content: string;
  reply_to_id: string | null;
  sender_name: string | null;
}

export type ReplyStatus = 'streaming' | 'complete' | 'truncated' | 'failed' | 'cancelled';

/** The service's writes of assistant replies, and the reads a reply needs. */
@Injectable()
export class AiRepliesRepository {
  constructor(@Inject(DATABASE) private readonly db: Database) {}

  async room(roomId: string): Promise<AiRoom | undefined> {
    const [row] = await this.db.call<{
      id: string;
      name: string;
      ai_mode: AiRoom['aiMode'];
      ai_system_prompt: string | null;
      ai_model: string | null;
      member_count: number;
    }>(SERVICE_ACTOR, 'ai_room', { p_room_id: roomId });
    return row
      ? {
          id: row.id,
          name: row.name,
          aiMode: row.ai_mode,
          systemPrompt: row.ai_system_prompt,
          model: row.ai_model,
          memberCount: row.member_count,
        }
      : undefined;
  }

  context(roomId: string, questionId: string, limit: number): Promise<ContextRow[]> {
    return this.db.call<ContextRow>(SERVICE_ACTOR, 'ai_context', {
      p_room_id: roomId,
      p_question_id: questionId,
      p_limit: limit,
    });
  }

  async create(roomId: string, replyToId: string): Promise<MessageDto> {
    const [row] = await this.db.call<MessageRow>(SERVICE_ACTOR, 'ai_create_reply', {
      p_room_id: roomId,
      p_reply_to_id: replyToId,
    });
    return toMessage(row);
  }

  async update(
    messageId: string,
    content: string,
    status: ReplyStatus,
    error?: { code: string; message: string },
  ): Promise<MessageDto | undefined> {
    const [row] = await this.db.call<MessageRow>(SERVICE_ACTOR, 'ai_update_reply', {
      p_message_id: messageId,
      p_content: content,
      p_status: status,
      p_error_code: error?.code ?? null,
      p_error_message: error?.message ?? null,
    });
    return row ? toMessage(row) : undefined;
  }

  async failInterrupted(): Promise<number> {
    const rows = await this.db.call(SERVICE_ACTOR, 'ai_fail_interrupted_replies', {});
    return rows.length;
  }
}
