import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { countTokens } from 'gpt-tokenizer/cjs/encoding/o200k_base';
import { APP_CONFIG, type AppConfig } from '../../config/app-config';
import type { AiChatMessage } from './ai-provider.port';
import { AiRepliesRepository, type AiRoom, type ContextRow } from './ai-replies.repository';

/** Rows read per reply: the window, not the room's history, bounds the cost. */
const HISTORY_ROWS = 200;
/** What each message costs beyond its text in the chat format (role, separators). */
const MESSAGE_OVERHEAD_TOKENS = 4;

export function defaultSystemPrompt(roomName: string): string {
  return (
    `You are the AI assistant in the chat room "${roomName}". Several people may talk here; ` +
    'answer the latest message helpfully and concisely.'
  );
}

/**
 * The conversation a reply is generated from: the system prompt, then the newest history that fits
 * AI_CONTEXT_TOKENS (oldest dropped first), each earlier question followed by its own reply, nothing
 * asked after this reply's question, and nothing from any other room.
 */
@Injectable()
export class ContextBuilder implements OnModuleInit {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly replies: AiRepliesRepository,
  ) {}

  /** The tokenizer builds its caches on first use (~6 ms): at start, not in the first reply. */
  onModuleInit(): void {
    countTokens('warm up');
  }

  async build(room: AiRoom, questionId: string): Promise<AiChatMessage[]> {
    const rows = await this.replies.context(room.id, questionId, HISTORY_ROWS);
    const system: AiChatMessage = { role: 'system', content: room.systemPrompt || defaultSystemPrompt(room.name) };
    const conversation = order(rows).map((row) => toChatMessage(row, room.memberCount > 1));
    const budget = this.config.ai.contextTokens - cost(system);
    const kept: AiChatMessage[] = [];
    let used = 0;
    // Newest first, until the budget is spent; the question itself is always kept.
    for (let i = conversation.length - 1; i >= 0; i--) {
      const next = cost(conversation[i]);
      if (kept.length > 0 && used + next > budget) {
        break;
      }
      kept.unshift(conversation[i]);
      used += next;
    }
    return [system, ...kept];
  }
}

/** Questions in seq order, each followed by the reply that answers it (wherever that was stored). */
function order(rows: ContextRow[]): ContextRow[] {
  const asked = rows.filter((r) => r.role !== 'assistant').sort((a, b) => a.seq - b.seq);
  const answers = new Map<string, ContextRow[]>();
  for (const reply of rows.filter((r) => r.role === 'assistant').sort((a, b) => a.seq - b.seq)) {
    const list = answers.get(reply.reply_to_id ?? '') ?? [];
    list.push(reply);
    answers.set(reply.reply_to_id ?? '', list);
  }
  return asked.flatMap((row) => [row, ...(answers.get(row.id) ?? [])]);
}

function toChatMessage(row: ContextRow, attribute: boolean): AiChatMessage {
  if (row.role === 'user') {
    return { role: 'user', content: attribute && row.sender_name ? `${row.sender_name}: ${row.content}` : row.content };
  }
  return { role: row.role, content: row.content };
}

function cost(message: AiChatMessage): number {
  return countTokens(message.content) + MESSAGE_OVERHEAD_TOKENS;
}
