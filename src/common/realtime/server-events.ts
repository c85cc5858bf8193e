import type { MessageDto } from '../messages/message';

/** A room's last message as a room list and `room:activity` show it (PROTOCOL.md §3). */
export interface LastMessageView {
  seq: number;
  role: MessageDto['role'];
  senderId: string | null;
  /** The first 140 characters of its content. */
  preview: string;
  createdAt: string;
}

/** The Room object of PROTOCOL.md §3 as `room:updated` carries it (chat's RoomDto has this shape). */
export interface RoomView {
  id: string;
  name: string;
  visibility: 'private' | 'public';
  ownerId: string;
  ai: { mode: 'off' | 'mention' | 'always'; systemPrompt: string | null; model: string | null; available: boolean };
  lastSeq: number;
  readReceipts: boolean;
  lastMessage: LastMessageView | null;
  createdAt: string;
  updatedAt: string;
  /** The caller's own: null for a stranger, and in events that every member gets alike. */
  myRole: 'owner' | 'member' | null;
  lastReadSeq: number | null;
  unread: number | null;
  muted: boolean | null;
}

/** The caller's read pointer in a room (PROTOCOL.md §4). */
export interface ReadPointer {
  roomId: string;
  seq: number;
}

export interface MemberEvent {
  roomId: string;
  profileId: string;
}

/** Server → client events sent to a room's subscribers (PROTOCOL.md §4), by name, with their payloads. */
export interface RoomEvents {
  'message:new': { message: MessageDto };
  'message:delta': { roomId: string; messageId: string; offset: number; delta: string };
  'message:updated': { message: MessageDto };
  typing: { roomId: string; profileId: string; isTyping: boolean };
  presence: { roomId: string; profileId: string; online: boolean };
  'room:updated': { room: RoomView };
  'room:deleted': { roomId: string };
  'member:added': MemberEvent;
  'member:removed': MemberEvent;
  /** A member read the room up to `seq` (only while the room's readReceipts is on). */
  'read:receipt': ReadPointer & { profileId: string };
}

/** Events sent to every socket of one person, whatever rooms they joined. */
export interface UserEvents {
  'member:added': MemberEvent;
  /** The person's read pointer moved (on any of their devices). */
  'read:updated': ReadPointer;
}

/** Sent to the members of a room whose sockets have not joined it: one per stored message, and its final status. */
export interface InboxEvents {
  'room:activity': { roomId: string; lastSeq: number; lastMessage: LastMessageView };
}

/** Events sent to one socket: its session's (PROTOCOL.md §4). */
export interface SocketEvents {
  /** The token expires at `expiresAt` (ISO-8601): renew it with `auth:refresh` before then. */
  'session:expiring': { expiresAt: string };
  /** The token has expired: the socket is disconnected right after. */
  'session:expired': { code: 'UNAUTHENTICATED'; message: string };
}

/**
 * The events of a room's feed: its messages, ordered by seq where they are received, and typing, which
 * keeps its place among them (a sender's `typing: false` comes before their `message:new` on every instance).
 */
export type FeedEvent = 'message:new' | 'message:delta' | 'message:updated' | 'typing';

type Listeners<Events> = { [E in keyof Events]: (payload: Events[E]) => void };

/** Every server → client event, typed for Socket.IO (`Namespace<…, ServerToClientEvents>`). */
export type ServerToClientEvents = Listeners<RoomEvents> &
  Listeners<UserEvents> &
  Listeners<InboxEvents> &
  Listeners<SocketEvents>;
