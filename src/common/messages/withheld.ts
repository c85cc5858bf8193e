import type { MessageDto, Withheld } from './message';

/**
 * A message as a reader who may not read it gets it: a placeholder that keeps its place (id, seq, rev), who sent
 * it and when, with no content, reactions or anything else it said (PROTOCOL.md §3 Blocks, Moderation). The
 * database's chat_private.as_read makes the same for what is read.
 */
export function withheldView(message: MessageDto, why: Withheld): MessageDto {
  return {
    id: message.id,
    roomId: message.roomId,
    seq: message.seq,
    rev: message.rev,
    role: message.role,
    senderId: message.senderId,
    content: '',
    status: message.status,
    clientId: null,
    replyToId: message.replyToId,
    createdAt: message.createdAt,
    updatedAt: message.updatedAt,
    ...(message.version ? { version: message.version } : {}),
    withheld: why,
  };
}
