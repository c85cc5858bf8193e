import type { Connection } from './connection';
import type { Emitter } from './emitter';
import type { ClientEvents, InboxEntry } from './events';
import type { InboxEvents, Message, Room } from './protocol';
import type { RoomState } from './room-state';

const UNREAD_CAP = 100;
/** The server's preview length, in characters (code points). */
const PREVIEW_LENGTH = 140;

/** The first PREVIEW_LENGTH characters of a text, as the server cuts `lastMessage.preview` (never half a character). */
function previewOf(content: string): string {
  return content.length <= PREVIEW_LENGTH ? content : Array.from(content).slice(0, PREVIEW_LENGTH).join('');
}

/**
 * The home screen's state (PROTOCOL.md §3, §4): each room's `lastMessage` and `unread`, read by `load` and kept by
 * `room:activity`, the joined rooms' messages, `read:updated`, `room:updated` and `member:added`.
 */
export class Inbox {
  private readonly entries = new Map<string, InboxEntry>();
  private loaded = false;

  constructor(
    private readonly connection: Connection,
    private readonly emitter: Emitter<ClientEvents>,
    /** A joined room's state, to count what is unread from the messages held. */
    private readonly roomOf: (roomId: string) => RoomState | undefined,
  ) {
    this.listen();
  }

  /** The entries, the room with the newest message first. */
  get list(): readonly InboxEntry[] {
    return [...this.entries.values()].sort((a, b) =>
      (b.lastMessage?.createdAt ?? '').localeCompare(a.lastMessage?.createdAt ?? ''),
    );
  }

  /** Reads the caller's rooms (`GET /api/rooms`); read again after each reconnect once read. */
  async load(): Promise<readonly InboxEntry[]> {
    const { rooms } = await this.connection.http<{ rooms: Room[] }>('GET', '/api/rooms');
    for (const room of rooms) {
      this.put({
        roomId: room.id,
        lastSeq: room.lastSeq,
        lastMessage: room.lastMessage,
        unread: room.unread ?? 0,
        lastReadSeq: room.lastReadSeq ?? 0,
        room,
      });
    }
    this.loaded = true;
    return this.list;
  }

  /** After a reconnect: read it again if it was read (what changed meanwhile came to no socket). */
  reload(): void {
    if (this.loaded) {
      void this.load().catch((error: unknown) => this.connection.report(error));
    }
  }

  setRead(roomId: string, lastReadSeq: number, unread: number): void {
    const entry = this.entries.get(roomId);
    if (entry) {
      this.put({ ...entry, lastReadSeq: Math.max(entry.lastReadSeq, lastReadSeq), unread });
    }
  }

  forget(roomId: string): void {
    this.entries.delete(roomId);
  }

  private listen(): void {
    const socket = this.connection.socket;
    socket.on('message:new', ({ message }) => this.noteActivity(message));
    // A joined room's reply gets its text at its final status: the last message's preview follows it.
    socket.on('message:updated', ({ message }) => this.noteActivity(message));
    socket.on('room:updated', ({ room }) => {
      const entry = this.entries.get(room.id);
      if (entry) {
        // room:updated carries nothing of the caller's own (myRole, lastReadSeq, unread, muted are null): keep ours.
        const mine = { myRole: entry.room?.myRole ?? null, muted: entry.room?.muted ?? null };
        this.put({ ...entry, room: { ...room, ...mine, lastReadSeq: entry.lastReadSeq, unread: entry.unread } });
      }
    });
    socket.on('member:added', ({ profileId }) => {
      if (profileId === this.connection.userId) {
        this.reload();
      }
    });
    socket.on('room:activity', (event) => this.applyActivity(event));
    socket.on('read:updated', ({ roomId, seq }) => {
      const entry = this.entries.get(roomId);
      if (entry && seq > entry.lastReadSeq) {
        this.setRead(roomId, seq, this.countUnread(roomId, seq, entry));
      }
    });
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
        preview: previewOf(message.content),
        createdAt: message.createdAt,
        ...(message.withheld ? { withheld: message.withheld } : {}),
      },
    });
  }

  /** PROTOCOL.md §4 `room:activity`. */
  private applyActivity({ roomId, lastSeq, lastMessage }: InboxEvents['room:activity']): void {
    const entry = this.entries.get(roomId);
    if (!entry) {
      return;
    }
    if (lastMessage.seq > entry.lastSeq) {
      const mine = lastMessage.senderId !== null && lastMessage.senderId === this.connection.userId;
      this.put({
        ...entry,
        lastSeq: Math.max(lastSeq, lastMessage.seq),
        lastMessage,
        unread: mine ? 0 : Math.min(UNREAD_CAP, entry.unread + 1),
        lastReadSeq: mine ? lastMessage.seq : entry.lastReadSeq,
      });
    } else if (lastMessage.seq === entry.lastMessage?.seq) {
      this.put({ ...entry, lastMessage });
    }
  }

  /** `unread` after the pointer moved to `seq`: counted from the messages held, else bounded by what is left. */
  private countUnread(roomId: string, seq: number, entry: InboxEntry): number {
    const room = this.roomOf(roomId);
    if (room?.isLoaded && room.firstSeq <= seq + 1 && room.lastSeq >= entry.lastSeq) {
      const others = room.messages.filter((m) => m.seq > seq && m.senderId !== this.connection.userId).length;
      return Math.min(UNREAD_CAP, others);
    }
    return Math.max(0, Math.min(entry.unread, entry.lastSeq - seq));
  }

  private put(entry: InboxEntry): void {
    this.entries.set(entry.roomId, entry);
    this.emitter.emit('inbox', entry);
  }
}
