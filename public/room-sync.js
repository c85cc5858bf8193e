// Keeps the open room's message list complete and free of duplicates (PROTOCOL.md §4): the newest page when
// the room opens, then, whenever something may have been missed (a reconnect, a seq jump, a missed delta),
// a `room:join` with `afterSeq` for everything after what is held. Older pages come over HTTP (`beforeSeq`).

export class RoomSync {
  /**
   * @param {import('./message-list.js').MessageList} list
   * @param {{ emit: (event: string, payload: object) => Promise<object>, connected: () => boolean,
   *   fetchOlder: (roomId: string, beforeSeq: number) => Promise<{ messages: object[], hasMore: boolean }>,
   *   onJoined: (room: object) => void, onError: (error: Error) => void }} hooks
   */
  constructor(list, hooks) {
    this.list = list;
    this.hooks = hooks;
    this.roomId = null;
    this.joining = false;
    this.joinAgain = false;
    /** deltas that arrived while a join was in flight: applied after its backlog */
    this.heldDeltas = [];
    this.hasOlder = false;
    this.loadingOlder = false;
  }

  open(roomId) {
    this.roomId = roomId;
    this.hasOlder = false;
    void this.join();
  }

  close() {
    this.roomId = null;
    this.list.clear();
  }

  /** Subscribes to the open room (again) and fetches what is missing; the list drops what it holds by id. */
  async join() {
    const roomId = this.roomId;
    if (!roomId || !this.hooks.connected()) {
      return; // the next connect joins
    }
    if (this.joining) {
      this.joinAgain = true;
      return;
    }
    this.joining = true;
    try {
      const first = this.list.messages.size === 0;
      let ack = await this.hooks.emit('room:join', { roomId, afterSeq: this.list.resumeSeq });
      while (this.roomId === roomId) {
        if (first) {
          this.hasOlder = ack.hasMore;
          this.list.add(ack.messages, { scrollToEnd: true });
          break;
        }
        this.list.add(ack.messages);
        if (!ack.hasMore) {
          break;
        }
        ack = await this.hooks.emit('room:join', { roomId, afterSeq: this.list.highestSeq });
      }
      if (this.roomId === roomId) {
        this.hooks.onJoined(ack.room);
      }
    } catch (error) {
      this.hooks.onError(error);
    } finally {
      this.joining = false;
      const held = this.heldDeltas;
      this.heldDeltas = [];
      held.forEach((delta) => this.onDelta(delta));
      if (this.joinAgain) {
        this.joinAgain = false;
        void this.join();
      }
    }
  }

  /** `message:new` and `message:updated`. */
  onMessage(message) {
    if (message.roomId !== this.roomId) {
      return;
    }
    const missed = !this.joining && message.seq > this.list.highestSeq + 1;
    this.list.add([message]);
    if (missed) {
      void this.join(); // seq jumped: fetch what came between
    }
  }

  /** `message:delta`: text at an offset; a client that lacks text before the offset re-joins. */
  onDelta(delta) {
    if (delta.roomId !== this.roomId) {
      return;
    }
    if (this.joining) {
      this.heldDeltas.push(delta);
    } else if (this.list.applyDelta(delta) !== 'ok') {
      void this.join(); // its message:new or an earlier delta was missed: the backlog has the text so far
    }
  }

  /** Loads older pages while the list is scrolled to its top (or does not fill its box yet). */
  async loadOlder() {
    const roomId = this.roomId;
    const beforeSeq = this.list.lowestSeq;
    if (!roomId || !this.hasOlder || this.loadingOlder || beforeSeq <= 1 || !this.list.nearTop()) {
      return;
    }
    this.loadingOlder = true;
    try {
      const page = await this.hooks.fetchOlder(roomId, beforeSeq);
      if (this.roomId !== roomId) {
        return;
      }
      this.hasOlder = page.hasMore;
      this.list.addOlder(page.messages);
    } catch (error) {
      this.hooks.onError(error);
      return;
    } finally {
      this.loadingOlder = false;
    }
    void this.loadOlder();
  }
}
