import type { MessageDto } from '../messages/message';
import type { RoomEvents, UserEvents } from './server-events';

/**
 * The port through which services reach connected clients (PROTOCOL.md §4, server → client), on every
 * instance. `chat` implements it over Socket.IO; a test or another transport swaps the adapter, not the callers.
 */
export interface RealtimeBroadcaster {
  /** Emits `event` with `payload` to every socket subscribed to the room, but those of `exceptProfileId`. */
  toRoom<E extends keyof RoomEvents>(roomId: string, event: E, payload: RoomEvents[E], exceptProfileId?: string): void;
  /** A new message (`message:new`): every subscriber gets a room's new messages in seq order, none missing. */
  toRoomInOrder(roomId: string, seq: number, event: 'message:new', payload: RoomEvents['message:new']): void;
  /** Emits `event` to every socket of one person, whatever rooms they are subscribed to. */
  toUser<E extends keyof UserEvents>(profileId: string, event: E, payload: UserEvents[E]): void;
  /** A new member's sockets get the room's `room:activity` from now on, on every instance. */
  addToInbox(roomId: string, profileId: string): void;
  /** Unsubscribes every socket of one member from the room and its activity (removal, leave), on every instance. */
  unsubscribeMember(roomId: string, profileId: string): Promise<void>;
  /** Unsubscribes every socket from the room and its activity (deletion), on every instance. */
  unsubscribeAll(roomId: string): Promise<void>;
}

/**
 * Told of every message stored here, once: a user message when it is stored, an assistant reply when it reaches
 * its final status. It must not throw or block: it runs in the send's path.
 */
export type StoredMessageListener = (message: MessageDto) => void;

export const REALTIME_BROADCASTER = Symbol('REALTIME_BROADCASTER');
