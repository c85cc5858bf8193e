/** How long a message waits for the one before it before it is sent anyway. */
export const ORDER_WAIT_MS = 250;
/** Rooms whose order is remembered; beyond, the quietest are forgotten (their next message is sent as it comes). */
const ROOMS_MAX = 10_000;

interface RoomOrder {
  last: number;
  pending: Map<number, () => void>;
  timer?: NodeJS.Timeout;
}

/**
 * Sends a room's messages in seq order. Stores commit in seq order (the room's counter is row-locked),
 * but their acknowledgements can come back out of order when sends run on several connections; a
 * message then waits, briefly, for the one before it. A message whose predecessor never shows up in
 * this process (sent by another instance, or its sender died) goes out after ORDER_WAIT_MS: late beats lost.
 */
export class SeqOrderer {
  private readonly rooms = new Map<string, RoomOrder>();

  emit(roomId: string, seq: number, send: () => void): void {
    const room = this.rooms.get(roomId);
    if (!room || seq <= room.last || seq === room.last + 1) {
      send();
      this.advance(roomId, room, seq);
      return;
    }
    room.pending.set(seq, send);
    room.timer ??= setTimeout(() => this.flushAll(roomId), ORDER_WAIT_MS);
  }

  private advance(roomId: string, room: RoomOrder | undefined, seq: number): void {
    const order = room ?? this.remember(roomId);
    order.last = Math.max(order.last, seq);
    for (let next = order.pending.get(order.last + 1); next; next = order.pending.get(order.last + 1)) {
      order.pending.delete(order.last + 1);
      next();
      order.last += 1;
    }
    if (order.pending.size === 0 && order.timer) {
      clearTimeout(order.timer);
      order.timer = undefined;
    }
  }

  private flushAll(roomId: string): void {
    const room = this.rooms.get(roomId);
    if (!room) {
      return;
    }
    room.timer = undefined;
    for (const seq of [...room.pending.keys()].sort((a, b) => a - b)) {
      room.pending.get(seq)?.();
      room.pending.delete(seq);
      room.last = Math.max(room.last, seq);
    }
  }

  private remember(roomId: string): RoomOrder {
    if (this.rooms.size >= ROOMS_MAX) {
      for (const [id, order] of this.rooms) {
        if (order.pending.size === 0) {
          this.rooms.delete(id);
          break;
        }
      }
    }
    const order: RoomOrder = { last: 0, pending: new Map() };
    this.rooms.set(roomId, order);
    return order;
  }
}
