import type { Message } from './protocol';
import { RoomState } from './room-state';

let ids = 0;
function message(seq: number, overrides: Partial<Message> = {}): Message {
  ids++;
  return {
    id: `m${ids}-${seq}`,
    roomId: 'room',
    seq,
    role: 'user',
    senderId: 'alice',
    content: `message ${seq}`,
    status: 'complete',
    clientId: null,
    replyToId: null,
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
    ...overrides,
  };
}
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => message(from + i));
const seqs = (sut: RoomState) => sut.messages.map((m) => m.seq);

describe(RoomState.name, () => {
  it('should take messages in seq order and drop one it holds', () => {
    const sut = new RoomState('room');
    sut.mergePage(range(1, 3), { hasMore: false });

    expect(sut.applyNew(message(4))).toBe('added');
    expect(sut.applyNew(message(4))).toBe('duplicate');
    expect(seqs(sut)).toEqual([1, 2, 3, 4]);
    expect(sut.hasOlder).toBe(false);
  });

  it('should hold back a message after a gap until a catch-up fills it', () => {
    const sut = new RoomState('room');
    sut.mergePage(range(1, 3), { hasMore: false });

    expect(sut.applyNew(message(6))).toBe('gap');
    expect(seqs(sut)).toEqual([1, 2, 3]);
    expect(sut.hasGap).toBe(true);
    expect(sut.resumeAfterSeq).toBe(3);

    sut.mergePage(range(4, 5));
    expect(seqs(sut)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(sut.hasGap).toBe(false);
  });

  it('should page older history in below the window', () => {
    const sut = new RoomState('room');
    sut.mergePage(range(51, 100), { hasMore: true });
    expect(sut.hasOlder).toBe(true);
    expect(sut.firstSeq).toBe(51);

    sut.mergePage(range(1, 50), { older: true, hasMore: false });

    expect(seqs(sut)).toEqual(range(1, 100).map((m) => m.seq));
    expect(sut.hasOlder).toBe(false);
  });

  it('should assemble a streamed reply from its deltas, overlaps included', () => {
    const sut = new RoomState('room');
    const reply = message(1, { role: 'assistant', senderId: null, content: '', status: 'streaming' });
    sut.mergePage([], { hasMore: false });
    sut.applyNew(reply);

    expect(sut.applyDelta({ roomId: 'room', messageId: reply.id, offset: 0, delta: 'Hel' })).toBe('applied');
    expect(sut.applyDelta({ roomId: 'room', messageId: reply.id, offset: 3, delta: 'lo' })).toBe('applied');
    expect(sut.applyDelta({ roomId: 'room', messageId: reply.id, offset: 3, delta: 'lo, world' })).toBe('applied');

    expect(sut.messages[0].content).toBe('Hello, world');
  });

  it('should report a missed delta and resume below the streaming reply', () => {
    const sut = new RoomState('room');
    sut.mergePage(range(1, 2), { hasMore: false });
    const reply = message(3, { role: 'assistant', senderId: null, content: '', status: 'streaming' });
    sut.applyNew(reply);
    sut.applyNew(message(4));
    sut.applyDelta({ roomId: 'room', messageId: reply.id, offset: 0, delta: 'one ' });

    const outcome = sut.applyDelta({ roomId: 'room', messageId: reply.id, offset: 8, delta: 'three' });

    expect(outcome).toBe('missed');
    expect(sut.messages[2].content).toBe('one ');
    expect(sut.resumeAfterSeq).toBe(2);
    // The re-join's ack brings the reply with its text so far; what is held keeps its place.
    sut.mergePage([{ ...reply, content: 'one two three' }, message(4)]);
    expect(sut.messages[2].content).toBe('one two three');
    expect(seqs(sut)).toEqual([1, 2, 3, 4]);
  });

  it('should keep a final reply over an older streaming copy', () => {
    const sut = new RoomState('room');
    const reply = message(1, { role: 'assistant', content: 'partial', status: 'streaming' });
    sut.mergePage([reply], { hasMore: false });
    sut.applyUpdated({ ...reply, content: 'partial and done', status: 'complete' });

    sut.mergePage([{ ...reply, content: 'partial an', status: 'streaming' }]);

    expect(sut.messages[0]).toMatchObject({ content: 'partial and done', status: 'complete' });
  });

  it('should follow presence from the join ack and typing', () => {
    const sut = new RoomState('room');
    sut.setOnline(['alice', 'bob']);
    sut.applyTyping({ roomId: 'room', profileId: 'bob', isTyping: true });
    sut.applyPresence({ roomId: 'room', profileId: 'bob', online: false });

    expect([...sut.online]).toEqual(['alice']);
    expect(sut.typing.size).toBe(0);
  });

  it('should give a new messages array only when something changed', () => {
    const sut = new RoomState('room');
    sut.mergePage(range(1, 2), { hasMore: false });
    const before = sut.messages;

    sut.applyNew(message(1));
    expect(sut.messages).toBe(before);
    sut.applyNew(message(3));
    expect(sut.messages).not.toBe(before);
  });
});
