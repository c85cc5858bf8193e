/**
 * The server → client event maps of PROTOCOL.md §4. They are the SDK's (client/src/protocol.d.ts, the one source of
 * truth): the broadcaster and the gateway type their emits with them, so a payload changed on one side is a type
 * error on the other. Type-only imports: nothing of client/ reaches dist/.
 */
import type { LastMessage, Room } from '../../../client/src/protocol';

export type {
  InboxEvents,
  MemberEvent,
  ReadPointer,
  RoomEvents,
  ServerToClientEvents,
  SocketEvents,
  UserEvents,
} from '../../../client/src/protocol';

/** A room's last message as a room list and `room:activity` show it (PROTOCOL.md §3). */
export type LastMessageView = LastMessage;

/** The Room object of PROTOCOL.md §3 as `room:updated` carries it (chat's RoomDto implements it). */
export type RoomView = Room;

/**
 * The events of a room's feed: its messages, ordered by seq where they are received, and typing, which
 * keeps its place among them (a sender's `typing: false` comes before their `message:new` on every instance).
 */
export type FeedEvent = 'message:new' | 'message:delta' | 'message:updated' | 'typing';
