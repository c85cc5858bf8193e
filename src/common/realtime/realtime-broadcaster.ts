/**
 * The port through which services reach connected clients (PROTOCOL.md §4, server → client).
 * `chat` implements it over Socket.IO; a test or another transport swaps the adapter, not the callers.
 */
export interface RealtimeBroadcaster {
  /** Emits `event` with `payload` to every socket subscribed to the room, but those of `exceptProfileId`. */
  toRoom(roomId: string, event: string, payload: unknown, exceptProfileId?: string): void;
  /** Like toRoom, for an event that carries a new message: the room's subscribers get these in seq order. */
  toRoomInOrder(roomId: string, seq: number, event: string, payload: unknown): void;
  /** Emits `event` to every socket of one person, whatever rooms they are subscribed to. */
  toUser(profileId: string, event: string, payload: unknown): void;
  /** Unsubscribes every socket of one member from the room (removal, leave). */
  unsubscribeMember(roomId: string, profileId: string): Promise<void>;
  /** Unsubscribes every socket from the room (deletion). */
  unsubscribeAll(roomId: string): Promise<void>;
}

export const REALTIME_BROADCASTER = Symbol('REALTIME_BROADCASTER');
