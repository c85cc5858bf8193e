import type { ChatError } from './errors';
import type { OutboxEvents } from './outbox';
import type { LastMessage, Room } from './protocol';
import type { RoomState } from './room-state';

export type ConnectionStatus = 'connecting' | 'connected' | 'disconnected' | 'closed';

/** A room as the home screen shows it (PROTOCOL.md §3, kept by `room:activity`, `read:updated`, `room:read`). */
export interface InboxEntry {
  roomId: string;
  lastSeq: number;
  lastMessage: LastMessage | null;
  unread: number;
  lastReadSeq: number;
  room?: Room;
}

export interface ClientEvents extends OutboxEvents {
  status: ConnectionStatus;
  /** A room's state changed (messages, presence, typing). */
  room: RoomState;
  /** The inbox changed (one room's entry). */
  inbox: InboxEntry;
  /** A room was deleted or the caller removed from it. */
  'room:gone': { roomId: string };
  /** Something the SDK could not do by itself (the session could not be renewed, a catch-up failed). */
  error: ChatError;
}
