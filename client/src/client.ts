import { Blocks } from './blocks';
import { Connection, type ChatSocket } from './connection';
import { Emitter } from './emitter';
import type { ClientEvents, ConnectionStatus, InboxEntry } from './events';
import { Inbox } from './inbox';
import { Outbox, type OutboxEntry, type OutboxEvents } from './outbox';
import type { Block, BlockState, Limits, Message, Report } from './protocol';
import type { RoomState } from './room-state';
import { RoomSync } from './room-sync';
import { memoryStorage, type StorageAdapter } from './storage';

export type { ClientEvents, ConnectionStatus, InboxEntry } from './events';

export interface ConnectOptions {
  /** The server's base URL (`https://chat.example.com`); the SDK talks to its `/chat` namespace and `/api`. */
  url: string;
  /** A valid access token: called at every (re)connection and on `session:expiring`; refresh inside it. */
  getToken(): Promise<string> | string;
  /** Keeps the outbox across app restarts (AsyncStorage, localStorage); in memory without it. */
  storage?: StorageAdapter;
  /** The storage key of the outbox; one per signed-in account on a shared device. */
  storageKey?: string;
  /** How long an ack may take before the call counts as `TIMEOUT` (default 10 s). */
  ackTimeoutMs?: number;
}

/** Connects to the chat server (websocket transport) and returns the client. */
export function connect(options: ConnectOptions): ChatClient {
  return new ChatClient(options);
}

/**
 * The chat client: one socket, re-connected with a fresh token whenever it drops (connection.ts); per-room state
 * kept gapless (room-sync.ts); the inbox (inbox.ts); the outbox (outbox.ts). Subscribe with `on(event, listener)`
 * (it returns the unsubscribe), read the state with `room(roomId)`, `inbox` and `outbox`.
 */
export class ChatClient {
  private readonly emitter = new Emitter<ClientEvents>();
  private readonly connection: Connection;
  private readonly inboxState: Inbox;
  private readonly rooms: RoomSync;
  private readonly outboxQueue: Outbox;
  private readonly blockList: Blocks;

  constructor(options: ConnectOptions) {
    this.connection = new Connection(
      { url: options.url, getToken: () => options.getToken(), ackTimeoutMs: options.ackTimeoutMs ?? 10_000 },
      this.emitter,
    );
    // The inbox first: a joined room's message updates the inbox before the room's listeners hear of it.
    this.inboxState = new Inbox(this.connection, this.emitter, (roomId) => this.rooms.held(roomId));
    this.rooms = new RoomSync(this.connection, this.emitter);
    this.outboxQueue = new Outbox({
      storage: options.storage ?? memoryStorage(),
      storageKey: options.storageKey ?? 'chat-sdk:outbox',
      canSend: () => this.connection.connected,
      deliver: async (entry) => {
        const { message } = await this.connection.call('message:send', {
          roomId: entry.roomId,
          content: entry.content,
          clientId: entry.clientId,
        });
        this.rooms.applySent(message);
        return message;
      },
      notify: (event, payload) => (this.emitter as unknown as Emitter<OutboxEvents>).emit(event, payload),
    });
    this.blockList = new Blocks(this.connection, (state) => {
      this.rooms.rereadAll();
      this.inboxState.reload();
      this.emitter.emit('block:updated', state);
    });
    this.listen();
    void this.outboxQueue.restore().then(() => this.outboxQueue.flush());
    this.connection.open();
  }

  /** The Socket.IO socket (its `io` manager tunes reconnection). */
  get socket(): ChatSocket {
    return this.connection.socket;
  }

  /** Subscribes to an event; returns the unsubscribe. */
  on<E extends keyof ClientEvents>(event: E, listener: (payload: ClientEvents[E]) => void): () => void {
    return this.emitter.on(event, listener);
  }

  off<E extends keyof ClientEvents>(event: E, listener: (payload: ClientEvents[E]) => void): void {
    this.emitter.off(event, listener);
  }

  get status(): ConnectionStatus {
    return this.connection.status;
  }

  /** The caller's profile id (the token's `sub`), once a token was fetched. */
  get userId(): string | undefined {
    return this.connection.userId;
  }

  /** A room's state (empty until `joinRoom`). */
  room(roomId: string): RoomState {
    return this.rooms.room(roomId);
  }

  get inbox(): readonly InboxEntry[] {
    return this.inboxState.list;
  }

  get outbox(): readonly OutboxEntry[] {
    return this.outboxQueue.list;
  }

  /** Resolves once the outbox's storage writes so far are done. */
  outboxPersisted(): Promise<void> {
    return this.outboxQueue.persisted();
  }

  /** Joins a room (again after every reconnect) and resolves once its state holds the newest messages. */
  joinRoom(roomId: string): Promise<RoomState> {
    return this.rooms.join(roomId);
  }

  leaveRoom(roomId: string): Promise<void> {
    return this.rooms.leave(roomId);
  }

  /** Loads the page of messages before the oldest held (`beforeSeq`); resolves with whether more are older. */
  loadOlder(roomId: string, limit = 50): Promise<boolean> {
    return this.rooms.loadOlder(roomId, limit);
  }

  /** Queues a message in the outbox (sent now, or once connected); returns its entry (see `outbox`). */
  send(roomId: string, content: string): OutboxEntry {
    return this.outboxQueue.enqueue(roomId, content);
  }

  retrySend(clientId: string): void {
    this.outboxQueue.retry(clientId);
  }

  discardSend(clientId: string): void {
    this.outboxQueue.discard(clientId);
  }

  /** Tells the room the caller is (or stopped) typing; best effort. */
  setTyping(roomId: string, isTyping: boolean): void {
    if (this.connection.connected) {
      this.connection.socket.emit('typing:update', { roomId, isTyping }, () => undefined);
    }
  }

  /** Moves the read pointer to `seq` (send the newest seq shown, at most a few times a second). */
  async markRead(roomId: string, seq: number): Promise<void> {
    const result = await this.connection.call('room:read', { roomId, seq });
    this.inboxState.setRead(roomId, result.lastReadSeq, result.unread);
  }

  /** Stops a reply being streamed. */
  async stopReply(roomId: string, messageId: string): Promise<void> {
    await this.connection.call('ai:stop', { roomId, messageId });
  }

  /** Edits the caller's own message (within the server's edit window); resolves with it as stored. */
  editMessage(roomId: string, messageId: string, content: string): Promise<Message>;
  /**
   * With `rerun: true`, the assistant also answers the edited message again (its next version, see `regenerate`);
   * resolves with the message and whether an answer was asked for (false: the room's assistant is off).
   */
  editMessage(
    roomId: string,
    messageId: string,
    content: string,
    options: { rerun: boolean },
  ): Promise<{ message: Message; rerun: boolean }>;
  async editMessage(
    roomId: string,
    messageId: string,
    content: string,
    options?: { rerun: boolean },
  ): Promise<Message | { message: Message; rerun: boolean }> {
    const ack = await this.rooms.change('message:edit', { roomId, messageId, content, ...options });
    return options ? { message: ack.message, rerun: ack.rerun ?? false } : ack.message;
  }

  /** Deletes a message (the caller's own; the room owner's: anyone's); resolves with its tombstone. */
  async deleteMessage(roomId: string, messageId: string): Promise<Message> {
    return (await this.rooms.change('message:delete', { roomId, messageId })).message;
  }

  /** Adds the caller's reaction (one per emoji); `room(roomId).myReactions(messageId)` then holds it. */
  async addReaction(roomId: string, messageId: string, emoji: string): Promise<Message> {
    return (await this.rooms.change('reaction:add', { roomId, messageId, emoji }, { emoji, mine: true })).message;
  }

  async removeReaction(roomId: string, messageId: string, emoji: string): Promise<Message> {
    return (await this.rooms.change('reaction:remove', { roomId, messageId, emoji }, { emoji, mine: false })).message;
  }

  /**
   * Asks the assistant for a new answer to the question of `messageId` (an answer, or the question itself): it
   * arrives as a new assistant message, the question's next `version` (`room(roomId).versionsOf(questionId)`).
   * `queued` is false when a new answer to it was already waiting.
   */
  async regenerate(roomId: string, messageId: string): Promise<{ questionId: string; queued: boolean }> {
    const { questionId, queued } = await this.connection.call('ai:regenerate', { roomId, messageId });
    return { questionId, queued };
  }

  /** Reports someone else's message to the room's owner (`POST /api/messages/:id/report`); once per message. */
  async reportMessage(messageId: string, reason: string): Promise<Report> {
    const path = `/api/messages/${encodeURIComponent(messageId)}/report`;
    return (await this.connection.http<{ report: Report }>('POST', path, { reason })).report;
  }

  /**
   * Blocks a person (`POST /api/profiles/:id/block`): their messages show as placeholders (`withheld: 'blocked'`,
   * content "") from then on, those held too (the joined rooms are read again), and they cannot add the caller to a
   * room. Blocking twice is the same as once.
   */
  block(profileId: string): Promise<BlockState> {
    return this.blockList.set(profileId, true);
  }

  /** Unblocks a person (`DELETE /api/profiles/:id/block`): the joined rooms are read again, their messages back. */
  unblock(profileId: string): Promise<BlockState> {
    return this.blockList.set(profileId, false);
  }

  /** The people the caller blocked (`GET /api/blocks`); `isBlocked` answers from it from then on. */
  blocks(): Promise<Block[]> {
    return this.blockList.load();
  }

  /** Whether the caller blocked this person, as far as this client knows (`blocks()` reads it; events keep it). */
  isBlocked(profileId: string): boolean {
    return this.blockList.has(profileId);
  }

  /** What the server accepts (`GET /api/limits`): the edit window, the longest message and emoji. */
  limits(): Promise<Limits> {
    return this.connection.http<Limits>('GET', '/api/limits');
  }

  /** Reads the caller's rooms (`GET /api/rooms`) into the inbox; the SDK reads it again after each reconnect. */
  loadInbox(): Promise<readonly InboxEntry[]> {
    return this.inboxState.load();
  }

  /** Closes the socket for good; what is in the outbox stays in the storage adapter. */
  close(): void {
    this.outboxQueue.stop();
    this.connection.close();
  }

  private listen(): void {
    const socket = this.connection.socket;
    socket.on('connect', () => {
      this.rooms.resyncAll();
      this.inboxState.reload();
      this.outboxQueue.flush();
    });
    socket.on('room:deleted', ({ roomId }) => this.forget(roomId));
    socket.on('message:withheld', (event) => {
      // The author's copy shows that the others do not see it ("flagged" or "pending" with its content).
      this.rooms.reread(event.roomId, event.seq, event.seq).catch((error: unknown) => this.connection.report(error));
      this.emitter.emit('message:withheld', event);
    });
    socket.on('member:removed', ({ roomId, profileId }) => {
      if (profileId === this.userId) {
        this.forget(roomId);
      }
    });
  }

  private forget(roomId: string): void {
    this.rooms.forget(roomId);
    this.inboxState.forget(roomId);
    this.emitter.emit('room:gone', { roomId });
  }
}
