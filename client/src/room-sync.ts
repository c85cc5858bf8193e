import type { Connection } from './connection';
import type { Emitter } from './emitter';
import { ChatError } from './errors';
import type { ClientEvents } from './events';
import type { Message } from './protocol';
import { RoomState } from './room-state';

const CATCH_UP_LIMIT = 100;

/**
 * The joined rooms kept gapless: joins with `afterSeq` after every reconnect, a catch-up on a gap or a missed delta,
 * older pages with `beforeSeq`, and the live events applied to each room's state.
 */
export class RoomSync {
  private readonly rooms = new Map<string, RoomState>();
  private readonly joined = new Set<string>();
  private readonly syncing = new Map<string, { again: boolean; done: Promise<void> }>();

  constructor(
    private readonly connection: Connection,
    private readonly emitter: Emitter<ClientEvents>,
  ) {
    this.listen();
  }

  /** A room's state (empty until `join`). */
  room(roomId: string): RoomState {
    let room = this.rooms.get(roomId);
    if (!room) {
      room = new RoomState(roomId);
      this.rooms.set(roomId, room);
    }
    return room;
  }

  /** A joined room's state, if held. */
  held(roomId: string): RoomState | undefined {
    return this.rooms.get(roomId);
  }

  async join(roomId: string): Promise<RoomState> {
    this.joined.add(roomId);
    await this.connection.connectedOnce();
    await this.sync(roomId);
    return this.room(roomId);
  }

  async leave(roomId: string): Promise<void> {
    this.joined.delete(roomId);
    if (this.connection.connected) {
      await this.connection.call('room:leave', { roomId });
    }
  }

  async loadOlder(roomId: string, limit: number): Promise<boolean> {
    const room = this.room(roomId);
    if (!room.isLoaded || !room.hasOlder) {
      return false;
    }
    const page = await this.connection.http<{ messages: Message[]; hasMore: boolean }>(
      'GET',
      `/api/rooms/${encodeURIComponent(roomId)}/messages?beforeSeq=${room.firstSeq}&limit=${limit}`,
    );
    room.mergePage(page.messages, { older: true, hasMore: page.hasMore });
    this.emitter.emit('room', room);
    return room.hasOlder;
  }

  /** After a reconnect: every joined room joins again from where it was. */
  resyncAll(): void {
    for (const roomId of this.joined) {
      this.resync(roomId);
    }
  }

  /** A message the caller's own send stored (its ack), in case it arrives before its `message:new`. */
  applySent(message: Message): void {
    const room = this.rooms.get(message.roomId);
    if (room && this.joined.has(message.roomId) && room.applyNew(message) === 'added') {
      this.emitter.emit('room', room);
    }
  }

  forget(roomId: string): void {
    this.joined.delete(roomId);
    this.rooms.delete(roomId);
  }

  private listen(): void {
    const socket = this.connection.socket;
    socket.on('message:new', ({ message }) => {
      const room = this.joinedRoom(message.roomId);
      if (!room) {
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
      const room = this.joinedRoom(message.roomId);
      if (room) {
        if (room.applyUpdated(message) === 'gap') {
          this.resync(message.roomId);
        } else {
          this.emitter.emit('room', room);
        }
      }
    });
    socket.on('message:delta', (event) => {
      const room = this.joinedRoom(event.roomId);
      if (!room) {
        return;
      }
      if (room.applyDelta(event) === 'missed') {
        this.resync(event.roomId);
      } else {
        this.emitter.emit('room', room);
      }
    });
    socket.on('typing', (event) => this.touch(event.roomId, (room) => room.applyTyping(event)));
    socket.on('presence', (event) => this.touch(event.roomId, (room) => room.applyPresence(event)));
  }

  private joinedRoom(roomId: string): RoomState | undefined {
    return this.joined.has(roomId) ? this.rooms.get(roomId) : undefined;
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
          if (!this.connection.connected || !this.joined.has(roomId)) {
            return; // the next connect syncs
          }
          const first = !room.isLoaded;
          const ack = await this.connection.call('room:join', {
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
        this.connection.report(error);
      }
    });
  }

  private touch(roomId: string, change: (room: RoomState) => void): void {
    const room = this.rooms.get(roomId);
    if (room) {
      change(room);
      this.emitter.emit('room', room);
    }
  }
}
