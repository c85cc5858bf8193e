/**
 * The wire contract of docs/PROTOCOL.md as types: the one source of truth for the SDK and the server (the server's
 * src/common/realtime/server-events.ts re-exports these maps, and its DTOs implement these objects).
 *
 * A declaration file on purpose: it holds types only, so the server imports it with `import type` from outside its
 * `rootDir` (a declaration file is never emitted), and the SDK's build copies it next to its output. Keep it
 * self-contained: no imports.
 */

/** The codes of PROTOCOL.md §2. */
export type ErrorCode =
  | 'VALIDATION_FAILED'
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'PAYLOAD_TOO_LARGE'
  | 'RATE_LIMITED'
  | 'UNAVAILABLE'
  | 'INTERNAL';

/** The error of a refused ack (PROTOCOL.md §2). */
export interface ErrorBody {
  code: ErrorCode;
  message: string;
  requestId?: string;
  details?: { field: string; message: string }[];
  retryAfterMs?: number;
}

export type MessageRole = 'user' | 'assistant' | 'system';
export type MessageStatus = 'complete' | 'streaming' | 'truncated' | 'failed' | 'cancelled';
export type AiMode = 'off' | 'mention' | 'always';

/** The Message of PROTOCOL.md §3. */
export interface Message {
  id: string;
  roomId: string;
  /** Per room, from 1, without gaps. */
  seq: number;
  /** The room's change number of this message's latest change (its creation, an edit, a delete, a reaction, a
   * reply's final status): per room, from 1, without gaps across all of the room's changes. Always sent by the
   * server; optional here only so that Messages built before it existed still type-check. */
  rev?: number;
  role: MessageRole;
  senderId: string | null;
  content: string;
  status: MessageStatus;
  clientId: string | null;
  replyToId: string | null;
  createdAt: string;
  updatedAt: string;
  /** On a `failed` assistant message. */
  error?: { code: string; message: string };
  /** When its author last edited it (present only on an edited message). */
  editedAt?: string;
  /** On a deleted message (a tombstone: `content` is empty, seq and rev stay): when, and by whom. */
  deletedAt?: string;
  deletedBy?: string | null;
  /** Reaction counts by emoji (present only when it has any). */
  reactions?: Record<string, number>;
  /**
   * The emoji the reader reacted with ("mine"), on messages it reads (pages, `changes`, `room:join` backlogs), only
   * when there are any. Never in room broadcasts: a live client keeps its own from the reaction deltas' `profileId`.
   */
  myReactions?: string[];
  /**
   * On an assistant reply to a question: its place among the answers to that question (1, 2, …; `ai:regenerate`
   * and an edit's `rerun` add one). The answers are the assistant messages with the same `replyToId`.
   */
  version?: number;
  /**
   * Withheld from this reader: a placeholder (`content` is "", no reactions) that keeps its id, seq, rev, sender and
   * time. `blocked`: the reader blocked its sender; `flagged`: moderation withheld it; `pending`: held until moderation
   * can check it. `flagged`/`pending` with content: the reader is its author or the room's owner, who still read it.
   */
  withheld?: WithheldReason;
}

export type WithheldReason = 'blocked' | 'flagged' | 'pending';

/** `GET /api/rooms/:id/changes`: the messages changed after `afterRev`, each once, in rev order. */
export interface ChangesPage {
  messages: Message[];
  hasMore: boolean;
  /** The room's latest rev when the page was read: with `hasMore` false, the client holds the room up to it. */
  lastRev: number;
}

/** `GET /api/limits`: what the server accepts (PROTOCOL.md §3 Limits). */
export interface Limits {
  /** The longest `content` in characters (after trimming). */
  messageMaxLength: number;
  /** How long after its `createdAt` a message may be edited. */
  editWindowSeconds: number;
  /** The longest reaction emoji in UTF-16 code units. */
  reactionMaxLength: number;
}

/** The Report of PROTOCOL.md §3 Reports: never who reported. */
export interface Report {
  id: string;
  roomId: string;
  messageId: string;
  reason: string;
  status: 'open' | 'resolved' | 'dismissed';
  createdAt: string;
  updatedAt: string;
}

/** A room's newest message as a room list and `room:activity` show it. */
export interface LastMessage {
  seq: number;
  role: MessageRole;
  senderId: string | null;
  /** The first 140 characters of its content ("" when it is withheld from the reader). */
  preview: string;
  createdAt: string;
  /** Withheld from this reader (the preview is ""), as on Message. */
  withheld?: WithheldReason;
}

/** The Profile of PROTOCOL.md §3. */
export interface Profile {
  id: string;
  username: string;
  displayName: string;
  avatarUrl: string | null;
  createdAt: string;
}

/** `GET /api/blocks`: a person the caller blocked, and since when. */
export interface Block {
  profile: Profile;
  createdAt: string;
}

/** `POST` / `DELETE /api/profiles/:id/block`, and the `block:updated` event. */
export interface BlockState {
  profileId: string;
  blocked: boolean;
}

/** The Room of PROTOCOL.md §3. */
export interface Room {
  id: string;
  name: string;
  visibility: 'private' | 'public';
  ownerId: string;
  ai: { mode: AiMode; systemPrompt: string | null; model: string | null; available: boolean };
  lastSeq: number;
  /** The room's latest change number (`rev`); null for a caller who is not a member. */
  lastRev?: number | null;
  readReceipts: boolean;
  lastMessage: LastMessage | null;
  createdAt: string;
  updatedAt: string;
  /** The caller's own: null for a stranger, and in events that every member gets alike. */
  myRole: 'owner' | 'member' | null;
  lastReadSeq: number | null;
  unread: number | null;
  muted: boolean | null;
}

/** The caller's read pointer in a room. */
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
  'message:new': { message: Message };
  'message:delta': { roomId: string; messageId: string; offset: number; delta: string };
  'message:updated': { message: Message };
  typing: { roomId: string; profileId: string; isTyping: boolean };
  presence: { roomId: string; profileId: string; online: boolean };
  'room:updated': { room: Room };
  'room:deleted': { roomId: string };
  'member:added': MemberEvent;
  'member:removed': MemberEvent;
  /** A member read the room up to `seq` (only while the room's readReceipts is on). */
  'read:receipt': ReadPointer & { profileId: string };
  /** A member added or took back a reaction: a delta of the message's counts, with the change's rev. */
  'message:reaction': {
    roomId: string;
    messageId: string;
    emoji: string;
    profileId: string;
    added: boolean;
    /** The emoji's count on the message after this change. */
    count: number;
    rev: number;
  };
}

/** Events sent to every socket of one person, whatever rooms they joined. */
export interface UserEvents {
  'member:added': MemberEvent;
  /** The person's read pointer moved (on any of their devices). */
  'read:updated': ReadPointer;
  /** The person blocked or unblocked someone (on any of their devices). Nothing is re-sent: re-read what is shown. */
  'block:updated': BlockState;
  /** Moderation withheld the person's own message from the others (`categories`: why). */
  'message:withheld': {
    roomId: string;
    messageId: string;
    seq: number;
    reason: Exclude<WithheldReason, 'blocked'>;
    categories: string[];
  };
}

/** Sent to the members of a room whose sockets have not joined it: one per stored message, and its final status. */
export interface InboxEvents {
  'room:activity': { roomId: string; lastSeq: number; lastMessage: LastMessage };
}

/** Events sent to one socket: its session's. */
export interface SocketEvents {
  /** The token expires at `expiresAt` (ISO-8601): renew it with `auth:refresh` before then. */
  'session:expiring': { expiresAt: string };
  /** The token has expired: the socket is disconnected right after. */
  'session:expired': { code: 'UNAUTHENTICATED'; message: string };
}

type Listeners<Events> = { [E in keyof Events]: (payload: Events[E]) => void };

/** Every server → client event, typed for Socket.IO (`Socket<…, ServerToClientEvents>` on both sides). */
export type ServerToClientEvents = Listeners<RoomEvents> &
  Listeners<UserEvents> &
  Listeners<InboxEvents> &
  Listeners<SocketEvents>;

/** Client → server events (PROTOCOL.md §4): each one's payload and what its ack holds on success. */
export interface ClientCalls {
  'room:join': {
    payload: { roomId: string; afterSeq?: number; afterRev?: number; limit?: number };
    /** With `afterRev`: `messages` in rev order and the room's `lastRev` when they were read. */
    result: { room: Room; messages: Message[]; hasMore: boolean; online: string[]; lastRev?: number };
  };
  'room:leave': { payload: { roomId: string }; result: object };
  'message:send': {
    payload: { roomId: string; content: string; clientId: string };
    result: { message: Message; duplicate: boolean };
  };
  'typing:update': { payload: { roomId: string; isTyping: boolean }; result: object };
  'room:read': { payload: ReadPointer; result: { roomId: string; lastReadSeq: number; unread: number } };
  'ai:stop': { payload: { roomId: string; messageId: string }; result: object };
  /** With `rerun`, the assistant answers the edited message again; the ack's `rerun` says whether it was asked. */
  'message:edit': {
    payload: { roomId: string; messageId: string; content: string; rerun?: boolean };
    result: { message: Message; rerun?: boolean };
  };
  'message:delete': { payload: { roomId: string; messageId: string }; result: { message: Message } };
  'reaction:add': { payload: { roomId: string; messageId: string; emoji: string }; result: { message: Message } };
  'reaction:remove': { payload: { roomId: string; messageId: string; emoji: string }; result: { message: Message } };
  /** A new answer to the question of `messageId` (an assistant reply, or the question itself); `queued` false when
   * one was already waiting. */
  'ai:regenerate': { payload: { roomId: string; messageId: string }; result: { questionId: string; queued: boolean } };
  'auth:refresh': { payload: { token: string }; result: { expiresAt: string } };
}

/** An ack: `{ ok: true, ...result }` or `{ ok: false, error }`. */
export type Ack<Result> = ({ ok: true } & Result) | { ok: false; error: ErrorBody };

/** Client → server events typed for Socket.IO, each with its ack callback. */
export type ClientToServerEvents = {
  [E in keyof ClientCalls]: (
    payload: ClientCalls[E]['payload'],
    ack: (ack: Ack<ClientCalls[E]['result']>) => void,
  ) => void;
};
