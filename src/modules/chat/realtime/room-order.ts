import type { MessageDto } from '../../../common/messages/message';
import type { FeedEvent, RoomEvents } from '../../../common/realtime/server-events';

/** One event of a room's feed; `seq` is set on `message:new` (the message's seq). */
export interface FeedItem<E extends FeedEvent = FeedEvent> {
  roomId: string;
  event: E;
  payload: RoomEvents[E];
  seq?: number;
  /** A member whose own sockets do not get it (typing is never sent back to the typer). */
  except?: string;
}

/** Reads the stored messages of a room with `afterSeq < seq < beforeSeq`, oldest first (at most a page). */
export type FetchMessages = (roomId: string, afterSeq: number, beforeSeq: number) => Promise<MessageDto[]>;

/** The most messages one repair reads; a longer gap is left to the clients (they see the jump and catch up). */
export const REPAIR_MAX = 1000;

interface RoomState {
  /**
   * The highest seq emitted here (or known to every local subscriber when the room was first joined); undefined
   * while the room is being joined and its last seq is not read yet: events then wait for it.
   */
  last?: number;
  queue: FeedItem[];
  timer?: NodeJS.Timeout;
  /** The repair in progress, if any: repairs of a room run one at a time. */
  repairing?: Promise<void>;
}

/**
 * Emits a room's feed to this instance's sockets with its `message:new` events in seq order, each once,
 * whichever instance stored them. A message whose predecessor has not arrived waits `waitMs`; then the
 * missing ones are read from the database (their instance may have died between commit and publish) and
 * emitted first. Other feed events (deltas, updates) keep their place behind a waiting message. Only rooms
 * this instance has subscribers in are tracked; the others' events go nowhere.
 */
export class RoomOrder {
  private readonly rooms = new Map<string, RoomState>();

  constructor(
    private readonly emit: (item: FeedItem) => void,
    private readonly fetch: FetchMessages,
    private readonly waitMs: number,
    private readonly onRepairFailed: (roomId: string, error: unknown) => void,
  ) {}

  /**
   * Starts keeping a room's events before its last seq is known (a first local join reads it): nothing that
   * arrives meanwhile is lost; it waits for `track`.
   */
  watch(roomId: string): void {
    if (!this.rooms.has(roomId)) {
      this.rooms.set(roomId, { queue: [] });
    }
  }

  /** Orders a room whose subscribers hold (or will read from the database) every seq up to `lastSeq`. */
  track(roomId: string, lastSeq: number): void {
    const room = this.rooms.get(roomId);
    if (!room) {
      this.rooms.set(roomId, { last: lastSeq, queue: [] });
    } else if (room.last === undefined) {
      room.last = lastSeq;
      this.drain(roomId, room);
    }
  }

  /** Whether the room is watched but its last seq was never given (a join that failed). */
  pending(roomId: string): boolean {
    const room = this.rooms.get(roomId);
    return room !== undefined && room.last === undefined;
  }

  /** The room has no subscriber here any more. */
  untrack(roomId: string): void {
    clearTimeout(this.rooms.get(roomId)?.timer);
    this.rooms.delete(roomId);
  }

  /** Every tracked room with the highest seq emitted in it. */
  tracked(): Map<string, number> {
    return new Map(
      [...this.rooms].flatMap(([id, room]) => (room.last === undefined ? [] : [[id, room.last] as const])),
    );
  }

  deliver(item: FeedItem): void {
    const room = this.rooms.get(item.roomId);
    if (!room) {
      return;
    }
    if (item.seq === undefined) {
      room.queue.push(item);
    } else {
      // Among themselves, new messages queue by seq; the other events keep their arrival order.
      const seq = item.seq;
      const at = room.queue.findIndex((queued) => queued.seq !== undefined && queued.seq > seq);
      room.queue.splice(at === -1 ? room.queue.length : at, 0, item);
    }
    this.drain(item.roomId, room);
  }

  /** Emits what is missing up to `upToSeq` (stored, but never received here: a Redis outage, a dead instance). */
  catchUp(roomId: string, upToSeq: number): Promise<void> {
    const room = this.rooms.get(roomId);
    if (!room || room.last === undefined || upToSeq <= room.last) {
      return Promise.resolve();
    }
    return this.repair(roomId, room, upToSeq);
  }

  private drain(roomId: string, room: RoomState): void {
    if (room.repairing || room.last === undefined) {
      return;
    }
    while (room.queue.length > 0) {
      const head = room.queue[0];
      if (head.seq !== undefined) {
        if (head.seq <= room.last) {
          room.queue.shift();
          continue;
        }
        if (head.seq !== room.last + 1) {
          room.timer ??= setTimeout(() => {
            room.timer = undefined;
            void this.repair(roomId, room, head.seq! - 1);
          }, this.waitMs);
          return;
        }
        room.last = head.seq;
      }
      room.queue.shift();
      this.emit(head);
    }
    clearTimeout(room.timer);
    room.timer = undefined;
  }

  private repair(roomId: string, room: RoomState, upToSeq: number): Promise<void> {
    const previous = room.repairing ?? Promise.resolve();
    const run = previous.then(async () => {
      const last = () => room.last ?? 0;
      const target = Math.min(upToSeq, last() + REPAIR_MAX);
      try {
        while (last() < target && this.rooms.get(roomId) === room) {
          const found = await this.fetch(roomId, last(), target + 1);
          const next = found.filter((m) => m.seq > last()).sort((a, b) => a.seq - b.seq);
          if (next.length === 0) {
            break;
          }
          for (const message of next) {
            room.last = message.seq;
            this.emit({ roomId, event: 'message:new', payload: { message }, seq: message.seq });
          }
        }
      } catch (error) {
        this.onRepairFailed(roomId, error);
      }
      // Whatever could not be read is left to the clients: they see the jump and catch up with afterSeq.
      room.last = Math.max(last(), target);
    });
    room.repairing = run;
    return run.finally(() => {
      if (room.repairing === run) {
        room.repairing = undefined;
        clearTimeout(room.timer);
        room.timer = undefined;
        this.drain(roomId, room);
      }
    });
  }
}
