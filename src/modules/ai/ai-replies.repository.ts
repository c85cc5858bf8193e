import { Inject, Injectable } from '@nestjs/common';
import { DATABASE, SERVICE_ACTOR, type Database } from '../persistence/database.port';

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

/** The reads a reply needs: its room's AI settings and the conversation (its writes are AiJobsRepository's). */
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
}
