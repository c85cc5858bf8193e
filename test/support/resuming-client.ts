/**
 * A client that behaves as PROTOCOL.md §4 asks of a real one across reconnects: socket.io-client reconnects by
 * itself; on every connect the client joins its rooms with `afterSeq` = the last seq it holds without a gap (below a
 * reply it holds still `streaming`, so that reply's end is not missed); it keeps each room's messages by seq, and
 * resends a send that was not acked (same `clientId`) once it is back.
 */
import { io, type Socket } from 'socket.io-client';

type Message = { id: string; seq: number; status: string; content: string; role: string; clientId?: string };

export class ResumingClient {
  readonly socket: Socket;
  /** roomId → seq → the message as this client holds it. */
  readonly rooms = new Map<string, Map<number, Message>>();
  /** `roomId:seq` of every `message:new` received while the client already held that seq from an earlier event. */
  readonly liveDuplicates: string[] = [];
  /** Date.now() of each disconnect, with its reason. */
  readonly disconnects: { at: number; reason: string }[] = [];
  /** clientId → the stored message an OK ack returned. */
  readonly acked = new Map<string, Message>();
  /** Error acks, by clientId. */
  readonly refused = new Map<string, unknown>();
  private readonly liveSeen = new Map<string, Set<number>>();
  private ready!: Promise<void>;
  private markReady!: () => void;
  private lost!: Promise<void>;
  private markLost!: () => void;

  private constructor(url: string, token: string, roomIds: string[]) {
    roomIds.forEach((roomId) => {
      this.rooms.set(roomId, new Map());
      this.liveSeen.set(roomId, new Set());
    });
    this.resetReady();
    this.socket = io(`${url}/chat`, {
      auth: { token },
      transports: ['websocket'],
      forceNew: true,
      reconnectionDelay: 100,
      reconnectionDelayMax: 500,
    });
    this.socket.on('connect', () => void this.joinAll());
    this.socket.on('disconnect', (reason) => {
      this.disconnects.push({ at: Date.now(), reason });
      this.markLost();
      this.resetReady();
    });
    this.socket.on('message:new', ({ message }: { message: Message & { roomId: string } }) => {
      const seen = this.liveSeen.get(message.roomId);
      if (seen?.has(message.seq)) {
        this.liveDuplicates.push(`${message.roomId}:${message.seq}`);
      }
      seen?.add(message.seq);
      this.keep(message.roomId, message);
    });
    this.socket.on('message:updated', ({ message }: { message: Message & { roomId: string } }) =>
      this.keep(message.roomId, message),
    );
    this.socket.on(
      'message:delta',
      ({ roomId, messageId, offset, delta }: { roomId: string; messageId: string; offset: number; delta: string }) => {
        const held = [...(this.rooms.get(roomId)?.values() ?? [])].find((m) => m.id === messageId);
        if (held && held.status === 'streaming' && held.content.length >= offset) {
          held.content = held.content.slice(0, offset) + delta;
        }
      },
    );
  }

  /** Connects and resolves once every room is joined. */
  static async open(url: string, token: string, roomIds: string[]): Promise<ResumingClient> {
    const client = new ResumingClient(url, token, roomIds);
    await client.ready;
    return client;
  }

  /** Resolves once the client is connected and has joined its rooms (again). */
  whenReady(): Promise<void> {
    return this.ready;
  }

  /** Sends until an ack arrives: a send whose connection dropped before its ack is sent again, same clientId. */
  async send(roomId: string, content: string, clientId: string): Promise<void> {
    for (;;) {
      await this.ready;
      const lost = this.lost.then(() => undefined);
      const answer = this.socket
        .timeout(20_000)
        .emitWithAck('message:send', { roomId, content, clientId })
        .catch(() => undefined) as Promise<{ ok: boolean; message?: Message; error?: unknown } | undefined>;
      const ack = await Promise.race([answer, lost]);
      if (ack === undefined) {
        continue;
      }
      if (ack.ok && ack.message) {
        this.acked.set(clientId, ack.message);
        this.keep(roomId, ack.message);
      } else {
        this.refused.set(clientId, ack.error);
      }
      return;
    }
  }

  /** The seqs this client holds for a room, ascending. */
  seqs(roomId: string): number[] {
    return [...(this.rooms.get(roomId)?.keys() ?? [])].sort((a, b) => a - b);
  }

  close(): void {
    this.socket.close();
  }

  private resetReady(): void {
    this.ready = new Promise((resolve) => (this.markReady = resolve));
    this.lost = new Promise((resolve) => (this.markLost = resolve));
  }

  private keep(roomId: string, message: Message): void {
    this.rooms.get(roomId)?.set(message.seq, { ...message });
  }

  /** Where to resume a room: the last seq held without a gap, below any reply held still streaming. */
  private resumeFrom(roomId: string): number {
    const held = this.rooms.get(roomId) ?? new Map<number, Message>();
    let last = 0;
    while (held.has(last + 1)) {
      last += 1;
    }
    const streaming = [...held.values()].filter((m) => m.status === 'streaming').map((m) => m.seq - 1);
    return Math.min(last, ...streaming);
  }

  private async joinAll(): Promise<void> {
    for (const roomId of this.rooms.keys()) {
      // Pages of 100 until the room is caught up.
      for (let afterSeq = this.resumeFrom(roomId); ;) {
        const joined = (await this.socket
          .timeout(20_000)
          .emitWithAck('room:join', { roomId, afterSeq, limit: 100 })
          .catch(() => undefined)) as { ok: boolean; messages: Message[]; hasMore: boolean } | undefined;
        if (!joined?.ok) {
          return; // The connection dropped meanwhile: the next connect joins again.
        }
        joined.messages.forEach((message) => this.keep(roomId, message));
        if (!joined.hasMore || joined.messages.length === 0) {
          break;
        }
        afterSeq = joined.messages[joined.messages.length - 1].seq;
      }
    }
    if (this.socket.connected) {
      this.markReady();
    }
  }
}
