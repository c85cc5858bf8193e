import { randomUUID } from 'node:crypto';
import type { MessageDto } from '../../../common/messages/message';
import { RoomOrder, type FeedItem } from './room-order';

const WAIT_MS = 100;

function message(roomId: string, seq: number): MessageDto {
  return {
    id: randomUUID(),
    roomId,
    seq,
    role: 'user',
    senderId: randomUUID(),
    content: `m${seq}`,
    status: 'complete',
    replyToId: null,
    clientId: null,
    error: null,
    createdAt: new Date(0).toISOString(),
    updatedAt: new Date(0).toISOString(),
  } as unknown as MessageDto;
}

function harness(stored: (roomId: string, seq: number) => boolean = () => true) {
  const emitted: string[] = [];
  const fetches: [number, number][] = [];
  const failures: unknown[] = [];
  const sut = new RoomOrder(
    (item) => emitted.push(item.event === 'message:new' ? `new ${item.seq}` : `${item.event}`),
    (roomId, after, before) => {
      fetches.push([after, before]);
      const found: MessageDto[] = [];
      for (let seq = after + 1; seq < before; seq += 1) {
        if (stored(roomId, seq)) {
          found.push(message(roomId, seq));
        }
      }
      return Promise.resolve(found);
    },
    WAIT_MS,
    (_, error) => failures.push(error),
  );
  const room = randomUUID();
  const send = (seq: number) =>
    sut.deliver({ roomId: room, event: 'message:new', payload: { message: message(room, seq) }, seq });
  const delta = () =>
    sut.deliver({
      roomId: room,
      event: 'message:delta',
      payload: { roomId: room, messageId: 'x', offset: 0, delta: 'a' },
    });
  return { sut, room, send, delta, emitted, fetches, failures };
}

describe(RoomOrder.name, () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('should emit nothing for a room it does not track', () => {
    const { send, emitted } = harness();

    send(1);

    expect(emitted).toEqual([]);
  });

  it('should emit in order what arrives in order, and drop a repeat', () => {
    const { sut, room, send, emitted } = harness();
    sut.track(room, 0);

    [1, 2, 2, 3, 1].forEach(send);

    expect(emitted).toEqual(['new 1', 'new 2', 'new 3']);
  });

  it('should hold a message until its predecessor arrives, keeping other events behind it', () => {
    const { sut, room, send, delta, emitted } = harness();
    sut.track(room, 4);

    send(6);
    delta();
    send(7);
    expect(emitted).toEqual([]);
    send(5);

    expect(emitted).toEqual(['new 5', 'new 6', 'message:delta', 'new 7']);
  });

  it('should read a predecessor that never arrives from the database after the wait, then go on', async () => {
    const { sut, room, send, emitted, fetches } = harness();
    sut.track(room, 0);

    send(1);
    send(4);
    await jest.advanceTimersByTimeAsync(WAIT_MS);

    expect(fetches).toEqual([[1, 4]]);
    expect(emitted).toEqual(['new 1', 'new 2', 'new 3', 'new 4']);
    send(3);
    send(5);
    expect(emitted).toEqual(['new 1', 'new 2', 'new 3', 'new 4', 'new 5']);
  });

  it('should catch up to a last seq it never heard of (a lost last message)', async () => {
    const { sut, room, send, emitted } = harness();
    sut.track(room, 0);
    send(1);

    await sut.catchUp(room, 3);

    expect(emitted).toEqual(['new 1', 'new 2', 'new 3']);
  });

  it('should leave a gap it cannot read to the clients rather than hold the room', async () => {
    const { sut, room, send, emitted } = harness((_, seq) => seq !== 2);
    sut.track(room, 0);

    send(1);
    send(3);
    await jest.advanceTimersByTimeAsync(WAIT_MS);

    expect(emitted).toEqual(['new 1', 'new 3']);
  });

  it('should report a failed read and still emit what waits', async () => {
    const failures: unknown[] = [];
    const emitted: number[] = [];
    const room = randomUUID();
    const sut = new RoomOrder(
      (item: FeedItem) => emitted.push(item.seq ?? -1),
      () => Promise.reject(new Error('database down')),
      WAIT_MS,
      (_, error) => failures.push(error),
    );
    sut.track(room, 0);

    sut.deliver({ roomId: room, event: 'message:new', payload: { message: message(room, 2) }, seq: 2 });
    await jest.advanceTimersByTimeAsync(WAIT_MS);

    expect(failures).toHaveLength(1);
    expect(emitted).toEqual([2]);
  });

  it('should keep what arrives while a join reads the room, and emit what is past its last seq in order', () => {
    const { sut, room, send, emitted } = harness();
    sut.watch(room);

    [12, 9, 10, 11].forEach(send);
    expect(emitted).toEqual([]);
    sut.track(room, 9);

    expect(emitted).toEqual(['new 10', 'new 11', 'new 12']);
  });

  it('should forget an untracked room', () => {
    const { sut, room, send, emitted } = harness();
    sut.track(room, 0);
    sut.untrack(room);

    send(1);

    expect(emitted).toEqual([]);
    expect(sut.tracked().size).toBe(0);
  });
});
