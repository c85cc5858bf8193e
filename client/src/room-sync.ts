import type { Connection } from './connection';
import type { Emitter } from './emitter';
import { ChatError } from './errors';
import type { ClientEvents } from './events';
import type { ClientCalls, Message } from './protocol';
import { applyJoin, joinModeOf, joinPayload } from './room-join';
import { rereadRoom } from './room-reread';
import { RoomState, type NewOutcome } from './room-state';

/**
 * The joined rooms kept gapless and current: after every reconnect and on a gap in `seq` or `rev`, a room joins again
 * with `afterRev` (the change feed: every message changed since, in its current state) once it holds a rev, else with
 * `afterSeq`; a missed delta joins with `afterSeq` below the streaming reply; older pages come with `beforeSeq`; the
 * live events are applied to each room's state.
 */
export class RoomSync {
  private readonly rooms = new Map<string, RoomState>();
  private readonly joined = new Set<string>();
  private readonly syncing = new Map<string, { again: boolean; done: Promise<void> }>();
  /** Rooms whose next join reads by seq: a streaming reply's text is not a change (it has no rev). */
  private readonly bySeq = new Set<string>();
  /** Rooms held but not joined when what the caller may see changed: re-read once joined again. */
  private readonly stale = new Set<string>();

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
    if (this.stale.delete(roomId)) {
      await this.reread(roomId);
    }
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

  /**
   * What the caller may see changed without a change to the rooms (a block, an unblock: nothing is re-sent): every
   * joined room reads the messages it holds again; the others do once joined again.
   */
  rereadAll(): void {
    for (const roomId of this.rooms.keys()) {
      if (this.joined.has(roomId)) {
        this.reread(roomId).catch((error: unknown) => this.report(error));
      } else {
        this.stale.add(roomId);
      }
    }
  }

  /** Reads the messages held of a joined room again, `fromSeq..toSeq` (all of them by default): see room-reread.ts. */
  async reread(roomId: string, fromSeq?: number, toSeq?: number): Promise<void> {
    await this.syncing.get(roomId)?.done;
    const room = this.joinedRoom(roomId);
    if (room) {
      await rereadRoom(this.connection, room, { fromSeq, toSeq }, () => this.emitter.emit('room', room));
    }
  }

  /** After a reconnect: every joined room joins again from where it was. */
  resyncAll(): void {
    for (const roomId of this.joined) {
      if (this.rooms.get(roomId)?.messages.some((m) => m.status === 'streaming')) {
        this.bySeq.add(roomId); // deltas may have been missed meanwhile
      }
      this.resync(roomId);
    }
  }

  /** A message the caller's own send stored (its ack), in case it arrives before its `message:new`. */
  applySent(message: Message): void {
    const room = this.joinedRoom(message.roomId);
    if (room && room.applyNew(message, false) === 'added') {
      this.emitter.emit('room', room);
    }
  }

  /** The caller's own edit, delete or reaction: the message as its ack has it is held at once (its event may lag). */
  async change<E extends 'message:edit' | 'message:delete' | 'reaction:add' | 'reaction:remove'>(
    event: E,
    payload: ClientCalls[E]['payload'],
    reaction?: { emoji: string; mine: boolean },
  ): Promise<ClientCalls[E]['result']> {
    const ack = await this.connection.call(event, payload);
    const room = this.joinedRoom(ack.message.roomId);
    if (room?.applyOwn(ack.message, reaction)) {
      this.emitter.emit('room', room);
    }
    return ack;
  }

  forget(roomId: string): void {
    this.joined.delete(roomId);
    this.rooms.delete(roomId);
  }

  private listen(): void {
    const socket = this.connection.socket;
    socket.on('message:new', ({ message }) => this.live(message.roomId, (room) => room.applyNew(message)));
    socket.on('message:updated', ({ message }) => this.live(message.roomId, (room) => room.applyUpdated(message)));
    socket.on('message:reaction', (event) =>
      this.live(event.roomId, (room) => room.applyReaction(event, this.connection.userId)),
    );
    socket.on('message:delta', (event) => {
      const room = this.joinedRoom(event.roomId);
      if (!room) {
        return;
      }
      if (room.applyDelta(event) === 'missed') {
        this.bySeq.add(event.roomId);
        this.resync(event.roomId);
      } else {
        this.emitter.emit('room', room);
      }
    });
    socket.on('typing', (event) => this.touch(event.roomId, (room) => room.applyTyping(event)));
    socket.on('presence', (event) => this.touch(event.roomId, (room) => room.applyPresence(event)));
  }

  /** A live change to a joined room: shown when it changed something, caught up after when it showed a gap. */
  private live(roomId: string, apply: (room: RoomState) => NewOutcome): void {
    const room = this.joinedRoom(roomId);
    if (!room) {
      return;
    }
    const outcome = apply(room);
    if (outcome !== 'duplicate') {
      this.emitter.emit('room', room);
    }
    if (outcome === 'gap') {
      this.resync(roomId);
    }
  }

  private joinedRoom(roomId: string): RoomState | undefined {
    return this.joined.has(roomId) ? this.rooms.get(roomId) : undefined;
  }

  /**
   * Brings a room up to date: the newest page the first time, then joins with `afterRev` (or `afterSeq`, see
   * `bySeq`), again while the ack says more, while messages wait above a gap in seq or rev, or after a missed delta.
   * One run per room at a time; a call during a run makes it go once more.
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
          const mode = joinModeOf(room, this.bySeq.delete(roomId));
          const ack = await this.connection.call('room:join', joinPayload(room, mode));
          const next = applyJoin(room, ack, mode);
          this.emitter.emit('room', room);
          if (next === 'seq') {
            this.bySeq.add(roomId);
          }
          run.again ||= next !== 'done';
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
    this.sync(roomId).catch((error: unknown) => this.report(error));
  }

  private report(error: unknown): void {
    if (!(error instanceof ChatError && error.code === 'DISCONNECTED')) {
      this.connection.report(error);
    }
  }

  private touch(roomId: string, change: (room: RoomState) => void): void {
    const room = this.rooms.get(roomId);
    if (room) {
      change(room);
      this.emitter.emit('room', room);
    }
  }
}
