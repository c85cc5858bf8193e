import { makeMessage } from './message.factory';
import type { Message } from './protocol';
import { RoomState } from './room-state';
import { rereadRoom } from './room-reread';

const message = (seq: number, overrides: Partial<Message> = {}) =>
  makeMessage(seq, { rev: seq, senderId: seq % 2 === 0 ? 'bob' : 'alice', ...overrides });
/** What a reader who blocked bob gets for one of bob's messages. */
const placeholder = (of: Message): Message => {
  const { reactions: _reactions, myReactions: _mine, ...kept } = of;
  return { ...kept, content: '', withheld: 'blocked' };
};

/** A room holding `messages`, its rev settled. */
function loaded(messages: Message[], hasMore = false): RoomState {
  const room = new RoomState('room');
  room.mergePage(messages, { hasMore });
  room.settleRev(Math.max(0, ...messages.map((m) => m.rev ?? 0)));
  return room;
}

/** `GET /api/rooms/:id/messages` over the messages the server has now (as the reader sees them). */
function fakeHttp(server: Message[]) {
  const paths: string[] = [];
  const http = <T>(_method: string, path: string): Promise<T> => {
    paths.push(path);
    const query = new URL(path, 'http://server').searchParams;
    const [after, before, limit] = ['afterSeq', 'beforeSeq', 'limit'].map((key) => Number(query.get(key)));
    const between = server.filter((m) => m.seq > after && m.seq < before);
    return Promise.resolve({ messages: between.slice(0, limit), hasMore: between.length > limit } as T);
  };
  return { connection: { http }, paths };
}

describe(`${RoomState.name} placeholders`, () => {
  it('should keep placeholders as messages of the window: seq and rev stay gapless', () => {
    const [one, two] = [message(1), message(2)];
    const sut = loaded([one, placeholder(two)]);

    expect(sut.applyNew(placeholder(message(3, { senderId: 'bob' })))).toBe('added');
    expect(sut.applyNew(message(4))).toBe('added');

    expect(sut.messages.map((m) => [m.seq, m.withheld ?? null])).toEqual([
      [1, null],
      [2, 'blocked'],
      [3, 'blocked'],
      [4, null],
    ]);
    expect(sut.hasGap).toBe(false);
    expect(sut.hasRevGap).toBe(false);
    expect(sut.lastRev).toBe(4);
  });
});

describe(rereadRoom.name, () => {
  it('should replace the messages held by their placeholders after a block, and back after an unblock', async () => {
    const server = Array.from({ length: 5 }, (_, i) => message(i + 1, { reactions: { '👍': 1 } }));
    const sut = loaded(server.map((m) => ({ ...m })));
    const blocked = server.map((m) => (m.senderId === 'bob' ? placeholder(m) : m));

    await rereadRoom(fakeHttp(blocked).connection, sut, {}, () => undefined);
    expect(sut.messages.map((m) => m.content)).toEqual(['message 1', '', 'message 3', '', 'message 5']);
    expect(sut.messages[1]).toEqual(placeholder(server[1]));

    await rereadRoom(fakeHttp(server).connection, sut, {}, () => undefined);
    expect(sut.messages).toEqual(server);
    expect(sut.lastRev).toBe(5);
  });

  it('should read the window held page by page, and only it', async () => {
    const server = Array.from({ length: 260 }, (_, i) => message(i + 1));
    const sut = loaded(
      server.slice(20, 250).map((m) => ({ ...m })),
      true,
    );
    const fake = fakeHttp(server);
    let pages = 0;

    await rereadRoom(fake.connection, sut, {}, () => pages++);

    expect(fake.paths).toEqual([
      '/api/rooms/room/messages?afterSeq=20&beforeSeq=251&limit=100',
      '/api/rooms/room/messages?afterSeq=120&beforeSeq=251&limit=100',
      '/api/rooms/room/messages?afterSeq=220&beforeSeq=251&limit=100',
    ]);
    expect(pages).toBe(3);
    expect([sut.firstSeq, sut.lastSeq]).toEqual([21, 250]);
  });

  it('should keep a newer change that came live over the copy of an older one', async () => {
    const two = message(2);
    const sut = loaded([message(1), two]);
    const edited = { ...two, content: 'edited live', editedAt: two.createdAt, rev: 3 };
    sut.applyUpdated(edited);

    await rereadRoom(
      fakeHttp([message(1), placeholder(two)]).connection,
      sut,
      { fromSeq: 2, toSeq: 2 },
      () => undefined,
    );

    expect(sut.messages[1]).toEqual(edited);
  });

  it('should give the same snapshot when the re-read shows nothing new', async () => {
    const server = [message(1), message(2)];
    const sut = loaded(server.map((m) => ({ ...m })));
    const before = sut.messages;

    await rereadRoom(fakeHttp(server).connection, sut, {}, () => undefined);

    expect(sut.messages).toBe(before);
  });
});
