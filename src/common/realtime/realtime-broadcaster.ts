import type { MessageDto } from '../messages/message';
import type { RoomEvents, UserEvents } from './server-events';

/**
 * The port through which services reach connected clients (PROTOCOL.md §4, server → client), on every
 * instance. `chat` implements it over Socket.IO; a test or another transport swaps the adapter, not the callers.
 */
export interface RealtimeBroadcaster {
  /**
   * Emits `event` with `payload` to every socket subscribed to the room, but those of `exceptProfileId`. A message's
   * own events go through the three methods below, which also tell the room's inbox what it needs to know.
   */
  toRoom<E extends Exclude<keyof RoomEvents, 'message:new' | 'message:updated'>>(
    roomId: string,
    event: E,
    payload: RoomEvents[E],
    exceptProfileId?: string,
  ): void;
  /**
   * Each of the three below sends a withheld message (`withheld` set: the author's copy, with its text) as its
   * placeholder: nobody gets a withheld text in a broadcast, whatever the caller passes.
   *
   * A new message (`message:new`): every subscriber gets a room's new messages in seq order, none missing. It is
   * activity: the room's inbox hears `room:activity`, the stored-message listeners (push) hear it, with `facts`.
   */
  toRoomInOrder(
    roomId: string,
    seq: number,
    event: 'message:new',
    payload: { message: MessageDto },
    facts?: StoredMessageFacts,
  ): void;
  /** An assistant reply reached its final status (`message:updated`): activity, like a new message. */
  replyEnded(message: MessageDto): void;
  /**
   * A stored message changed — edited, deleted, reacted to (`message:updated`, with its new rev). Not activity: no
   * unread, no push. When it is the room's last message (`seq === lastSeq`) the inbox hears `room:activity` with
   * the same `lastSeq`, so a room list's preview follows an edit and loses a deleted message's text.
   */
  messageChanged(message: MessageDto, lastSeq: number): void;
  /**
   * `blockerId` blocked (or unblocked) `blockedId`: from now on every socket of the blocker gets the blocked
   * person's messages as placeholders, and neither their typing nor their rooms' activity (or all of it again), on
   * every instance; the blocker's sockets hear `block:updated`.
   */
  blockChanged(blockerId: string, blockedId: string, blocked: boolean): void;
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
export type StoredMessageListener = (message: MessageDto, facts: StoredMessageFacts) => void;

/** What the database told of a stored message as it stored it, beyond the message itself. */
export interface StoredMessageFacts {
  /**
   * false: when it was stored, no other member who had not muted the room had a push device, so nobody may get a
   * push for it. true or absent: someone may (or the store did not say).
   */
  pushCandidates?: boolean;
}

export const REALTIME_BROADCASTER = Symbol('REALTIME_BROADCASTER');
