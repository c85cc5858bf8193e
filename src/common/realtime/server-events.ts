import type { MessageDto } from '../messages/message';

/** The Room object of PROTOCOL.md §3 as `room:updated` carries it (chat's RoomDto has this shape). */
export interface RoomView {
  id: string;
  name: string;
  visibility: 'private' | 'public';
  ownerId: string;
  ai: { mode: 'off' | 'mention' | 'always'; systemPrompt: string | null; model: string | null; available: boolean };
  lastSeq: number;
  createdAt: string;
  updatedAt: string;
  myRole: 'owner' | 'member' | null;
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
}

/** Events sent to every socket of one person, whatever rooms they joined. */
export interface UserEvents {
  'member:added': MemberEvent;
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
export type ServerToClientEvents = Listeners<RoomEvents> & Listeners<UserEvents> & Listeners<SocketEvents>;
