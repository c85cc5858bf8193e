import type { LastMessageView } from '../realtime/server-events';
import type { MessageDto } from './message';

/** A preview holds at most this many characters (code points, as the database's left() counts them). */
export const PREVIEW_LENGTH = 140;

/** The first PREVIEW_LENGTH characters of a text, never cutting a character in two. */
export function previewOf(content: string): string {
  if (content.length <= PREVIEW_LENGTH) {
    return content;
  }
  return Array.from(content.slice(0, PREVIEW_LENGTH * 2))
    .slice(0, PREVIEW_LENGTH)
    .join('');
}

/** A message as a room list's `lastMessage` and `room:activity` show it (no preview of a withheld one). */
export function lastMessageOf(message: MessageDto): LastMessageView {
  return {
    seq: message.seq,
    role: message.role,
    senderId: message.senderId,
    preview: message.withheld ? '' : previewOf(message.content),
    createdAt: message.createdAt,
    ...(message.withheld ? { withheld: message.withheld } : {}),
  };
}
