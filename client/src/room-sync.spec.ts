import type { Connection } from './connection';
import { Emitter } from './emitter';
import type { ClientEvents } from './events';
import { makeMessage } from './message.factory';
import type { ClientCalls, Message, Room } from './protocol';
import { RoomSync } from './room-sync';

type Join = ClientCalls['room:join'];

const message = (seq: number, rev: number, overrides: Partial<Message> = {}) => makeMessage(seq, { rev, ...overrides });

/** A connection whose joins answer the pages given, in turn, and whose socket events the test fires. */
function fakeConnection(pages: Omit<Join['result'], 'room' | 'online'>[], lastRev: number, reads: Message[][] = []) {
  const listeners = new Map<string, (payload: unknown) => void>();
  const joins: Join['payload'][] = [];
  const paths: string[] = [];
  const room = { id: 'room', lastRev } as Room;
  const connection = {
    connected: true,
    userId: 'me',
    socket: { on: (event: string, listener: (payload: unknown) => void) => listeners.set(event, listener) },
    connectedOnce: () => Promise.resolve(),
    report: (error: unknown) => {
      throw error;
    },
    /** `GET /api/rooms/:id/messages`: the pages of `reads`, in turn. */
    http: (_method: string, path: string) => {
      paths.push(path);
      return Promise.resolve({ messages: reads.shift() ?? [], hasMore: false });
    },
    call: (event: 'room:join' | 'room:leave', payload: Join['payload']) => {
      if (event === 'room:leave') {
        return Promise.resolve({});
      }
      joins.push(payload);
      const page = pages.shift();
      return page ? Promise.resolve({ room, online: [], ...page }) : Promise.reject(new Error('no page left'));
    },
  };
  const fire = (event: string, payload: unknown) => listeners.get(event)!(payload);
  return { connection: connection as unknown as Connection, joins, paths, fire };
}

describe(RoomSync.name, () => {
  it('should catch up with afterRev, page by page, when a live change skips a rev', async () => {
    const [one, two] = [message(1, 1), message(2, 2)];
    const edited = { ...one, content: 'edited', editedAt: one.updatedAt, rev: 4 };
    const reacted = { ...two, reactions: { '👍': 1 }, rev: 5 };
    const fake = fakeConnection(
      [
        { messages: [one, two], hasMore: false },
        { messages: [message(3, 3)], hasMore: true, lastRev: 6 },
        { messages: [edited, reacted], hasMore: false, lastRev: 6 },
      ],
      2,
    );
    const emitter = new Emitter<ClientEvents>();
    const sut = new RoomSync(fake.connection, emitter);
    const room = await sut.join('room');
    const caughtUp = new Promise<void>((resolve) => emitter.on('room', () => fake.joins.length === 3 && resolve()));

    fake.fire('message:updated', { message: { ...reacted, rev: 6 } }); // revs 3 to 5 were missed
    await caughtUp;

    expect(fake.joins).toEqual([
      { roomId: 'room', limit: 50 },
      { roomId: 'room', limit: 100, afterRev: 2 },
      { roomId: 'room', limit: 100, afterRev: 3 },
    ]);
    expect(room.messages.map((m) => [m.seq, m.content, m.rev])).toEqual([
      [1, 'edited', 4],
      [2, 'message 2', 6],
      [3, 'message 3', 3],
    ]);
    expect(room.lastRev).toBe(6);
    expect(room.hasRevGap).toBe(false);
  });

  it('should read by seq from below a streaming reply after a missed delta, though it holds a rev', async () => {
    const question = message(1, 1);
    const reply = message(2, 2, { role: 'assistant', senderId: null, content: '', status: 'streaming' });
    const fake = fakeConnection(
      [
        { messages: [question, reply], hasMore: false },
        { messages: [{ ...reply, content: 'Hello there' }], hasMore: false },
        { messages: [], hasMore: false, lastRev: 2 },
      ],
      2,
    );
    const emitter = new Emitter<ClientEvents>();
    const sut = new RoomSync(fake.connection, emitter);
    const room = await sut.join('room');
    const caughtUp = new Promise<void>((resolve) => emitter.on('room', () => fake.joins.length === 3 && resolve()));

    fake.fire('message:delta', { roomId: 'room', messageId: reply.id, offset: 5, delta: ' there' });
    await caughtUp;

    expect(fake.joins.slice(1)).toEqual([
      { roomId: 'room', limit: 100, afterSeq: 1 },
      { roomId: 'room', limit: 100, afterRev: 2 }, // and what else changed meanwhile
    ]);
    expect(room.messages[1]).toMatchObject({ content: 'Hello there', status: 'streaming' });
    expect(room.lastRev).toBe(2);
  });

  it('should read by seq when the change feed leaves a hole in seq', async () => {
    const fake = fakeConnection(
      [
        { messages: [message(1, 1)], hasMore: false },
        { messages: [], hasMore: false, lastRev: 3 },
        { messages: [message(2, 2), message(3, 3)], hasMore: false },
        { messages: [], hasMore: false, lastRev: 3 },
      ],
      1,
    );
    const emitter = new Emitter<ClientEvents>();
    const sut = new RoomSync(fake.connection, emitter);
    const room = await sut.join('room');
    const caughtUp = new Promise<void>((resolve) => emitter.on('room', () => fake.joins.length === 4 && resolve()));

    fake.fire('message:new', { message: message(3, 3) }); // 2 missed; the feed's answer has nothing
    await caughtUp;

    expect(fake.joins.slice(1)).toEqual([
      { roomId: 'room', limit: 100, afterRev: 1 },
      { roomId: 'room', limit: 100, afterSeq: 1 },
      { roomId: 'room', limit: 100, afterRev: 3 },
    ]);
    expect(room.messages.map((m) => m.seq)).toEqual([1, 2, 3]);
  });

  it('should read the joined rooms again when what the caller may see changes, a room left once joined again', async () => {
    const [one, two] = [message(1, 1), message(2, 2, { senderId: 'bob' })];
    const hidden: Message = { ...two, content: '', withheld: 'blocked' };
    const fake = fakeConnection(
      [
        { messages: [one, two], hasMore: false },
        { messages: [one, two], hasMore: false },
        { messages: [], hasMore: false, lastRev: 2 },
      ],
      2,
      [
        [one, hidden],
        [one, hidden],
      ],
    );
    const emitter = new Emitter<ClientEvents>();
    const sut = new RoomSync(fake.connection, emitter);
    const [room, left] = [await sut.join('room'), await sut.join('left')];
    await sut.leave('left');
    const reread = new Promise<void>((resolve) => emitter.on('room', (state) => state === room && resolve()));

    sut.rereadAll();
    await reread;

    expect(room.messages.map((m) => [m.content, m.withheld])).toEqual([
      ['message 1', undefined],
      ['', 'blocked'],
    ]);
    expect(fake.paths).toEqual(['/api/rooms/room/messages?afterSeq=0&beforeSeq=3&limit=100']);
    expect(left.messages[1].withheld).toBeUndefined();
    await sut.join('left');
    expect(left.messages[1].withheld).toBe('blocked');
    expect(fake.paths.at(-1)).toBe('/api/rooms/left/messages?afterSeq=0&beforeSeq=3&limit=100');
  });
});
