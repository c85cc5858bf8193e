import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import type { Message } from '../../../client/src/protocol';
import { isoTimestamp } from './timestamp';

/**
 * The Message of PROTOCOL.md §3, shared by the features that store and send messages (chat for people,
 * ai for the assistant), with its row as the SQL functions return it and the one mapping between them.
 */
export const MESSAGE_ROLES = ['user', 'assistant', 'system'] as const;
export const MESSAGE_STATUSES = ['complete', 'streaming', 'truncated', 'failed', 'cancelled'] as const;

export class MessageErrorDto {
  @ApiProperty()
  code!: string;

  @ApiProperty()
  message!: string;
}

/** Implements the SDK's Message: the wire type both sides compile against. */
export class MessageDto implements Message {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ format: 'uuid' })
  roomId!: string;

  @ApiProperty({ description: 'per room, from 1, without gaps' })
  seq!: number;

  @ApiProperty({ description: "the room's change number of this message's latest change (gapless per room)" })
  rev!: number;

  @ApiProperty({ enum: MESSAGE_ROLES })
  role!: (typeof MESSAGE_ROLES)[number];

  @ApiProperty({ type: String, nullable: true, format: 'uuid' })
  senderId!: string | null;

  @ApiProperty()
  content!: string;

  @ApiProperty({ enum: MESSAGE_STATUSES })
  status!: (typeof MESSAGE_STATUSES)[number];

  @ApiProperty({ type: String, nullable: true })
  clientId!: string | null;

  @ApiProperty({ type: String, nullable: true, format: 'uuid' })
  replyToId!: string | null;

  @ApiProperty({ format: 'date-time' })
  createdAt!: string;

  @ApiProperty({ format: 'date-time' })
  updatedAt!: string;

  @ApiPropertyOptional({ type: MessageErrorDto })
  error?: MessageErrorDto;

  @ApiPropertyOptional({ format: 'date-time', description: 'only on an edited message' })
  editedAt?: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'only on a deleted message (a tombstone, content empty)' })
  deletedAt?: string;

  @ApiPropertyOptional({ type: String, format: 'uuid', nullable: true, description: 'only on a deleted message' })
  deletedBy?: string | null;

  @ApiPropertyOptional({ description: 'reaction counts by emoji, only when there are any' })
  reactions?: Record<string, number>;

  @ApiPropertyOptional({
    type: [String],
    description:
      "the caller's own reactions, on messages a caller reads (pages, changes, join backlogs); never broadcast",
  })
  myReactions?: string[];

  @ApiPropertyOptional({
    minimum: 1,
    description: 'only on an assistant reply to a question: its place among the answers to that question (1, 2, …)',
  })
  version?: number;

  @ApiPropertyOptional({
    enum: ['blocked', 'flagged', 'pending'],
    description:
      'withheld from the reader (content is "": a placeholder that keeps seq and rev): blocked = the reader blocked ' +
      'its sender; flagged = moderation withheld it; pending = held until moderation can check it. With content: ' +
      'the reader is its author or the room owner, and everyone else reads a placeholder',
  })
  withheld?: Withheld;
}

/** Why a message is withheld from a reader (PROTOCOL.md §3 Blocks, Moderation). */
export type Withheld = 'blocked' | 'flagged' | 'pending';

export interface MessageRow {
  id: string;
  chatroom_id: string;
  seq: number;
  rev: number;
  role: MessageDto['role'];
  sender_id: string | null;
  content: string;
  status: MessageDto['status'];
  client_id: string | null;
  reply_to_id: string | null;
  error_code: string | null;
  error_message: string | null;
  created_at: Date | string;
  updated_at: Date | string;
  /** Absent from a send's row (a new message has none of them). */
  edited_at?: Date | string | null;
  deleted_at?: Date | string | null;
  deleted_by?: string | null;
  reactions?: Record<string, number> | null;
  reply_version?: number | null;
  withheld?: Withheld | null;
}

export function toMessage(row: MessageRow): MessageDto {
  return {
    id: row.id,
    roomId: row.chatroom_id,
    seq: Number(row.seq),
    rev: Number(row.rev),
    role: row.role,
    senderId: row.sender_id,
    content: row.content,
    status: row.status,
    clientId: row.client_id,
    replyToId: row.reply_to_id,
    createdAt: isoTimestamp(row.created_at),
    updatedAt: isoTimestamp(row.updated_at),
    ...(row.error_code ? { error: { code: row.error_code, message: row.error_message ?? '' } } : {}),
    ...(row.edited_at ? { editedAt: isoTimestamp(row.edited_at) } : {}),
    ...(row.deleted_at ? { deletedAt: isoTimestamp(row.deleted_at), deletedBy: row.deleted_by ?? null } : {}),
    ...(row.reactions && Object.keys(row.reactions).length > 0 ? { reactions: row.reactions } : {}),
    ...(row.reply_version ? { version: Number(row.reply_version) } : {}),
    ...(row.withheld ? { withheld: row.withheld } : {}),
  };
}
