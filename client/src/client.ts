import { io, type Socket } from 'socket.io-client';
import { Emitter } from './emitter';
import { ChatError } from './errors';
import { Outbox, type OutboxEntry, type OutboxEvents } from './outbox';
import { httpFetch, subjectOf, timers } from './platform';
import type {
  Ack,
  ClientCalls,
  ClientToServerEvents,
  ErrorBody,
  InboxEvents,
  LastMessage,
  Message,
  Room,
  ServerToClientEvents,
} from './protocol';
import { RoomState } from './room-state';
import { memoryStorage, type StorageAdapter } from './storage';

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

const UNREAD_CAP = 100;
const CATCH_UP_LIMIT = 100;

/** Connects to the chat server (websocket transport) and returns the client. */
export function connect(options: ConnectOptions): ChatClient {
  return new ChatClient(options);
}

/**
 * The chat client: one socket, re-connected with a fresh token whenever it drops; per-room state kept gapless;
 * the inbox; the outbox. Subscribe with `on(event, listener)` (it returns the unsubscribe), read the state with
 * `room(roomId)`, `inbox` and `outbox`.
 */
export class ChatClient {
  readonly socket: Socket<ServerToClientEvents, ClientToServerEvents>;
  private readonly emitter = new Emitter<ClientEvents>();
  private readonly rooms = new Map<string, RoomState>();
  private readonly joined = new Set<string>();
  private readonly syncing = new Map<string, { again: boolean; done: Promise<void> }>();
  private readonly inboxEntries = new Map<string, InboxEntry>();
  private readonly outboxQueue: Outbox;
  private readonly ackTimeoutMs: number;
  private token?: string;
  private state: ConnectionStatus = 'connecting';
  private retryTimer?: unknown;

  constructor(private readonly options: ConnectOptions) {
    this.ackTimeoutMs = options.ackTimeoutMs ?? 10_000;
    const base = options.url.replace(/\/+$/, '');
    this.socket = io(`${base}/chat`, {
      transports: ['websocket'],
      autoConnect: false,
      // Asked at every (re)connection, so a reconnect always carries a fresh token.
      auth: (callback) => {
        this.freshToken().then(
          (token) => callback({ token }),
          () => callback({}),
        );
      },
    });
    this.outboxQueue = new Outbox({
      storage: options.storage ?? memoryStorage(),
      storageKey: options.storageKey ?? 'chat-sdk:outbox',
      canSend: () => this.socket.connected,
      deliver: (entry) => this.deliver(entry),
      notify: (event, payload) => (this.emitter as unknown as Emitter<OutboxEvents>).emit(event, payload),
    });
    this.listen();
    void this.outboxQueue.restore().then(() => this.outboxQueue.flush());
    this.socket.connect();
  }

  /** Subscribes to an event; returns the unsubscribe. */
  on<E extends keyof ClientEvents>(event: E, listener: (payload: ClientEvents[E]) => void): () => void {
    return this.emitter.on(event, listener);
  }

  off<E extends keyof ClientEvents>(event: E, listener: (payload: ClientEvents[E]) => void): void {
    this.emitter.off(event, listener);
  }

  get status(): ConnectionStatus {
    return this.state;
  }

  /** The caller's profile id (the token's `sub`), once a token was fetched. */
  get userId(): string | undefined {
    return this.token ? subjectOf(this.token) : undefined;
  }

  /** A room's state (empty until `joinRoom`). */
  room(roomId: string): RoomState {
    let room = this.rooms.get(roomId);
    if (!room) {
      room = new RoomState(roomId);
      this.rooms.set(roomId, room);
    }
    return room;
  }

  get inbox(): readonly InboxEntry[] {
    return [...this.inboxEntries.values()].sort((a, b) =>
      (b.lastMessage?.createdAt ?? '').localeCompare(a.lastMessage?.createdAt ?? ''),
    );
  }

  get outbox(): readonly OutboxEntry[] {
    return this.outboxQueue.list;
  }

  /** Resolves once the outbox's storage writes so far are done. */
  outboxPersisted(): Promise<void> {
    return this.outboxQueue.persisted();
  }

  /** Joins a room (again after every reconnect) and resolves once its state holds the newest messages. */
  async joinRoom(roomId: string): Promise<RoomState> {
    this.joined.add(roomId);
    if (!this.socket.connected) {
      await new Promise<void>((resolve) => this.socket.once('connect', () => resolve()));
    }
    await this.sync(roomId);
    return this.room(roomId);
  }

  async leaveRoom(roomId: string): Promise<void> {
    this.joined.delete(roomId);
    if (this.socket.connected) {
      await this.call('room:leave', { roomId });
    }
  }

  /** Loads the page of messages before the oldest held (`beforeSeq`); resolves with whether more are older. */
  async loadOlder(roomId: string, limit = 50): Promise<boolean> {
    const room = this.room(roomId);
    if (!room.isLoaded || !room.hasOlder) {
      return false;
    }
    const page = await this.http<{ messages: Message[]; hasMore: boolean }>(
      'GET',
      `/api/rooms/${encodeURIComponent(roomId)}/messages?beforeSeq=${room.firstSeq}&limit=${limit}`,
    );
    room.mergePage(page.messages, { older: true, hasMore: page.hasMore });
    this.emitter.emit('room', room);
    return room.hasOlder;
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
    if (this.socket.connected) {
      this.socket.emit('typing:update', { roomId, isTyping }, () => undefined);
    }
  }

  /** Moves the read pointer to `seq` (send the newest seq shown, at most a few times a second). */
  async markRead(roomId: string, seq: number): Promise<void> {
    const result = await this.call('room:read', { roomId, seq });
    this.setRead(roomId, result.lastReadSeq, result.unread);
  }

  /** Stops a reply being streamed. */
  async stopReply(roomId: string, messageId: string): Promise<void> {
    await this.call('ai:stop', { roomId, messageId });
  }

  /** Reads the caller's rooms (`GET /api/rooms`) into the inbox; the SDK reads it again after each reconnect. */
  async loadInbox(): Promise<readonly InboxEntry[]> {
    const { rooms } = await this.http<{ rooms: Room[] }>('GET', '/api/rooms');
    for (const room of rooms) {
      this.putInbox({
        roomId: room.id,
        lastSeq: room.lastSeq,
        lastMessage: room.lastMessage,
        unread: room.unread ?? 0,
        lastReadSeq: room.lastReadSeq ?? 0,
        room,
      });
    }
    this.inboxLoaded = true;
    return this.inbox;
  }

  /** Closes the socket for good; what is in the outbox stays in the storage adapter. */
  close(): void {
    this.setStatus('closed');
    this.outboxQueue.stop();
    if (this.retryTimer !== undefined) {
      timers.clear(this.retryTimer);
    }
    this.socket.disconnect();
  }

  private inboxLoaded = false;

  private listen(): void {
    const socket = this.socket;
    socket.on('connect', () => {
      this.setStatus('connected');
      for (const roomId of this.joined) {
        this.resync(roomId);
      }
      if (this.inboxLoaded) {
        void this.loadInbox().catch((error: unknown) => this.report(error));
      }
      this.outboxQueue.flush();
    });
    socket.on('disconnect', (reason) => {
      if (this.state === 'closed') {
        return;
      }
      this.setStatus('disconnected');
      // socket.io-client reconnects by itself after a network loss, not after the server disconnected it
      // (`session:expired`, a server-side drop): then reconnect here, with a fresh token.
      if (reason === 'io server disconnect') {
        this.reconnectSoon(0);
      }
    });
    socket.on('connect_error', (error: Error & { data?: Partial<ErrorBody> }) => {
      if (this.state === 'closed' || socket.active) {
        return; // a transport error: the manager retries by itself
      }
      // Refused by the server's middleware (UNAUTHENTICATED, RATE_LIMITED): retry, with a fresh token.
      this.setStatus('disconnected');
      this.reconnectSoon(error.data?.retryAfterMs ?? 1000);
    });
    socket.on('session:expiring', () => void this.renew());
    socket.on('message:new', ({ message }) => {
      this.noteActivity(message);
      const room = this.rooms.get(message.roomId);
      if (!room || !this.joined.has(message.roomId)) {
        return;
      }
      const outcome = room.applyNew(message);
      if (outcome === 'added') {
        this.emitter.emit('room', room);
      } else if (outcome === 'gap') {
        this.resync(message.roomId);
      }
    });
    socket.on('message:updated', ({ message }) => {
      const room = this.rooms.get(message.roomId);
      if (room && this.joined.has(message.roomId)) {
        if (room.applyUpdated(message) === 'gap') {
          this.resync(message.roomId);
        } else {
          this.emitter.emit('room', room);
        }
      }
    });
    socket.on('message:delta', (event) => {
      const room = this.rooms.get(event.roomId);
      if (!room || !this.joined.has(event.roomId)) {
        return;
      }
      if (room.applyDelta(event) === 'missed') {
        this.resync(event.roomId);
      } else {
        this.emitter.emit('room', room);
      }
    });
    socket.on('typing', (event) => this.touchRoom(event.roomId, (room) => room.applyTyping(event)));
    socket.on('presence', (event) => this.touchRoom(event.roomId, (room) => room.applyPresence(event)));
    socket.on('room:updated', ({ room }) => {
      const entry = this.inboxEntries.get(room.id);
      if (entry) {
        // room:updated carries no caller state (lastReadSeq, unread, muted are null): keep ours.
        this.putInbox({ ...entry, room: { ...room, lastReadSeq: entry.lastReadSeq, unread: entry.unread } });
      }
    });
    socket.on('room:deleted', ({ roomId }) => this.forget(roomId));
    socket.on('member:removed', ({ roomId, profileId }) => {
      if (profileId === this.userId) {
        this.forget(roomId);
      }
    });
    socket.on('member:added', ({ profileId }) => {
      if (profileId === this.userId && this.inboxLoaded) {
        void this.loadInbox().catch((error: unknown) => this.report(error));
      }
    });
    socket.on('room:activity', (event) => this.applyActivity(event));
    socket.on('read:updated', ({ roomId, seq }) => {
      const entry = this.inboxEntries.get(roomId);
      if (entry && seq > entry.lastReadSeq) {
        this.setRead(roomId, seq, this.countUnread(roomId, seq, entry));
      }
    });
  }

  /**
   * Brings a room up to date: joins with `afterSeq` (the newest page the first time), again while the ack says
   * more, while messages wait above a gap, or after a missed delta. One run per room at a time; a call during a run
   * makes it go once more.
   */
  private sync(roomId: string): Promise<void> {
    const running = this.syncing.get(roomId);
    if (running) {
      running.again = true;
      return running.done;
    }
    const run = { again: false, done: Promise.resolve() };
    run.done = (async () => {
      try {
        const room = this.room(roomId);
        do {
          run.again = false;
          if (!this.socket.connected || !this.joined.has(roomId)) {
            return; // the next connect syncs
          }
          const first = !room.isLoaded;
          const ack = await this.call('room:join', {
            roomId,
            limit: first ? 50 : CATCH_UP_LIMIT,
            ...(first ? {} : { afterSeq: room.resumeAfterSeq }),
          });
          room.mergePage(ack.messages, { hasMore: ack.hasMore });
          room.setOnline(ack.online);
          this.emitter.emit('room', room);
          if (!first && ack.hasMore) {
            run.again = true;
          }
          if (room.hasGap) {
            run.again = true;
          }
        } while (run.again);
      } finally {
        this.syncing.delete(roomId);
      }
    })();
    this.syncing.set(roomId, run);
    return run.done;
  }

  /** Syncs in the background; a drop meanwhile is not an error (the next connect syncs again). */
  private resync(roomId: string): void {
    this.sync(roomId).catch((error: unknown) => {
      if (!(error instanceof ChatError && error.code === 'DISCONNECTED')) {
        this.report(error);
      }
    });
  }

  private async deliver(entry: OutboxEntry): Promise<Message> {
    if (!this.socket.connected) {
      throw new ChatError('DISCONNECTED', 'Not connected');
    }
    const { message } = await this.call('message:send', {
      roomId: entry.roomId,
      content: entry.content,
      clientId: entry.clientId,
    });
    const room = this.rooms.get(entry.roomId);
    if (room && this.joined.has(entry.roomId) && room.applyNew(message) === 'added') {
      this.emitter.emit('room', room);
    }
    return message;
  }

  /** Emits a client → server event and resolves with its ack, or rejects with a ChatError. */
  private async call<E extends keyof ClientCalls>(
    event: E,
    payload: ClientCalls[E]['payload'],
  ): Promise<ClientCalls[E]['result']> {
    if (!this.socket.connected) {
      throw new ChatError('DISCONNECTED', 'Not connected');
    }
    let ack: Ack<ClientCalls[E]['result']>;
    try {
      // Socket.IO's typing of a generic event name is too wide to call; the map above types it instead.
      const timed = this.socket.timeout(this.ackTimeoutMs);
      const emit = timed.emitWithAck.bind(timed) as unknown as (
        event: E,
        payload: ClientCalls[E]['payload'],
      ) => Promise<Ack<ClientCalls[E]['result']>>;
      ack = await emit(event, payload);
    } catch {
      throw this.socket.connected
        ? new ChatError('TIMEOUT', `No answer to ${event}`)
        : new ChatError('DISCONNECTED', 'Disconnected');
    }
    if (!ack.ok) {
      throw ChatError.from(ack.error);
    }
    return ack;
  }

  private async http<T>(method: string, path: string): Promise<T> {
    const token = this.token ?? (await this.freshToken());
    const response = await httpFetch(`${this.options.url.replace(/\/+$/, '')}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}` },
    });
    const body = (await response.json()) as T & Partial<ErrorBody>;
    if (!response.ok) {
      throw new ChatError(body.code ?? 'INTERNAL', body.message ?? `HTTP ${response.status}`, {
        retryAfterMs: body.retryAfterMs,
        requestId: body.requestId,
      });
    }
    return body;
  }

  private async freshToken(): Promise<string> {
    this.token = await this.options.getToken();
    return this.token;
  }

  /** `session:expiring`: hand the socket a fresh token (twice at most: the first may have expired meanwhile). */
  private async renew(): Promise<void> {
    for (let attempt = 1; attempt <= 2; attempt++) {
      try {
        await this.call('auth:refresh', { token: await this.freshToken() });
        return;
      } catch (error) {
        if (!(error instanceof ChatError && error.code === 'UNAUTHENTICATED') || attempt === 2) {
          this.report(error);
          return;
        }
      }
    }
  }

  private reconnectSoon(ms: number): void {
    if (this.retryTimer !== undefined) {
      return;
    }
    this.retryTimer = timers.set(() => {
      this.retryTimer = undefined;
      if (this.state !== 'closed' && !this.socket.connected) {
        this.setStatus('connecting');
        this.socket.connect();
      }
    }, ms);
  }

  private touchRoom(roomId: string, change: (room: RoomState) => void): void {
    const room = this.rooms.get(roomId);
    if (room) {
      change(room);
      this.emitter.emit('room', room);
    }
  }

  /** A message of a joined room counts in the inbox as `room:activity` would for one not joined. */
  private noteActivity(message: Message): void {
    this.applyActivity({
      roomId: message.roomId,
      lastSeq: message.seq,
      lastMessage: {
        seq: message.seq,
        role: message.role,
        senderId: message.senderId,
        preview: message.content.slice(0, 140),
        createdAt: message.createdAt,
      },
    });
  }

  /** PROTOCOL.md §4 `room:activity`. */
  private applyActivity({ roomId, lastSeq, lastMessage }: InboxEvents['room:activity']): void {
    const entry = this.inboxEntries.get(roomId);
    if (!entry) {
      return;
    }
    if (lastMessage.seq > entry.lastSeq) {
      const mine = lastMessage.senderId !== null && lastMessage.senderId === this.userId;
      this.putInbox({
        ...entry,
        lastSeq: Math.max(lastSeq, lastMessage.seq),
        lastMessage,
        unread: mine ? 0 : Math.min(UNREAD_CAP, entry.unread + 1),
        lastReadSeq: mine ? lastMessage.seq : entry.lastReadSeq,
      });
    } else if (lastMessage.seq === entry.lastMessage?.seq) {
      this.putInbox({ ...entry, lastMessage });
    }
  }

  private setRead(roomId: string, lastReadSeq: number, unread: number): void {
    const entry = this.inboxEntries.get(roomId);
    if (entry) {
      this.putInbox({ ...entry, lastReadSeq: Math.max(entry.lastReadSeq, lastReadSeq), unread });
    }
  }

  /** `unread` after the pointer moved to `seq`: counted from the messages held, else bounded by what is left. */
  private countUnread(roomId: string, seq: number, entry: InboxEntry): number {
    const room = this.rooms.get(roomId);
    if (room?.isLoaded && room.firstSeq <= seq + 1 && room.lastSeq >= entry.lastSeq) {
      const others = room.messages.filter((m) => m.seq > seq && m.senderId !== this.userId).length;
      return Math.min(UNREAD_CAP, others);
    }
    return Math.max(0, Math.min(entry.unread, entry.lastSeq - seq));
  }

  private putInbox(entry: InboxEntry): void {
    this.inboxEntries.set(entry.roomId, entry);
    this.emitter.emit('inbox', entry);
  }

  private forget(roomId: string): void {
    this.joined.delete(roomId);
    this.rooms.delete(roomId);
    this.inboxEntries.delete(roomId);
    this.emitter.emit('room:gone', { roomId });
  }

  private setStatus(status: ConnectionStatus): void {
    if (this.state !== status && this.state !== 'closed') {
      this.state = status;
      this.emitter.emit('status', status);
    }
  }

  private report(error: unknown): void {
    this.emitter.emit('error', error instanceof ChatError ? error : new ChatError('INTERNAL', String(error)));
  }
}
