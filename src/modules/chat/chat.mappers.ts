import { toProfile } from '../auth/profile.mapper';
import type { MemberDto } from './dto/member.dto';
import type { RoomDto } from './dto/room.dto';
import { isoTimestamp } from '../../common/messages/timestamp';

/** Rows as the SQL functions return them (snake_case); each is mapped to its wire object here, once. */
export interface RoomRow {
  id: string;
  name: string;
  visibility: 'private' | 'public';
  owner_id: string;
  ai_mode: 'off' | 'mention' | 'always';
  ai_system_prompt: string | null;
  ai_model: string | null;
  last_seq: number;
  last_rev: number | null;
  created_at: Date | string;
  updated_at: Date | string;
  my_role: 'owner' | 'member' | null;
  read_receipts: boolean;
  last_read_seq: number | null;
  unread: number | null;
  muted: boolean | null;
  last_message_seq: number | null;
  last_message_role: 'user' | 'assistant' | 'system' | null;
  last_message_sender_id: string | null;
  last_message_preview: string | null;
  last_message_created_at: Date | string | null;
  last_message_withheld?: 'blocked' | 'flagged' | 'pending' | null;
}

export interface MemberRow {
  profile_id: string;
  username: string;
  display_name: string;
  avatar_url: string | null;
  profile_created_at: Date | string;
  role: 'owner' | 'member';
  joined_at: Date | string;
}

/** What a room's `ai` shows that the row does not hold: the server's default model and whether AI is configured. */
export interface AiSettings {
  defaultModel: string;
  /** The models allowed now: a stored model that no longer is shows (and is used) as the default. */
  models: string[];
  available: boolean;
}

export function toRoom(row: RoomRow, ai: AiSettings): RoomDto {
  return {
    id: row.id,
    name: row.name,
    visibility: row.visibility,
    ownerId: row.owner_id,
    ai: {
      mode: row.ai_mode,
      systemPrompt: row.ai_system_prompt,
      model: row.ai_model !== null && ai.models.includes(row.ai_model) ? row.ai_model : ai.defaultModel,
      available: ai.available,
    },
    lastSeq: row.last_seq,
    lastRev: row.last_rev === null ? null : Number(row.last_rev),
    readReceipts: row.read_receipts,
    lastMessage:
      row.last_message_seq === null
        ? null
        : {
            seq: row.last_message_seq,
            role: row.last_message_role ?? 'user',
            senderId: row.last_message_sender_id,
            preview: row.last_message_preview ?? '',
            createdAt: isoTimestamp(row.last_message_created_at ?? row.updated_at),
            ...(row.last_message_withheld ? { withheld: row.last_message_withheld } : {}),
          },
    createdAt: isoTimestamp(row.created_at),
    updatedAt: isoTimestamp(row.updated_at),
    myRole: row.my_role,
    lastReadSeq: row.last_read_seq,
    unread: row.unread,
    muted: row.muted,
  };
}

export function toMember(row: MemberRow): MemberDto {
  return {
    profile: toProfile({
      id: row.profile_id,
      username: row.username,
      display_name: row.display_name,
      avatar_url: row.avatar_url,
      created_at: row.profile_created_at,
    }),
    role: row.role,
    joinedAt: isoTimestamp(row.joined_at),
  };
}

export { toMessage, type MessageRow } from '../../common/messages/message';
