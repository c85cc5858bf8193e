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

/**
 * A message as the whole room gets it in a broadcast: a withheld one (with its text, as its author or the owner read
 * it, or as the row holds it) as its placeholder. A broadcast is one payload per room (PROTOCOL.md §3).
 */
export function broadcastView(message: MessageDto): MessageDto {
  return message.withheld ? withheldView(message, message.withheld) : message;
}
