import type { ChatError } from './errors';
import type { OutboxEvents } from './outbox';
import type { BlockState, LastMessage, Room, UserEvents } from './protocol';
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
  /**
   * The caller blocked or unblocked someone (here or on another device): `isBlocked` says so from now on, and the
   * joined rooms' messages are being read again (their `room` events follow: placeholders, or the messages back).
   */
  'block:updated': BlockState;
  /** Moderation withheld one of the caller's own messages from the others; the message held is read again. */
  'message:withheld': UserEvents['message:withheld'];
  /** Something the SDK could not do by itself (the session could not be renewed, a catch-up failed). */
  error: ChatError;
}
