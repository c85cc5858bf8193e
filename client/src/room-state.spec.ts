import { makeMessage } from './message.factory';
import type { Message } from './protocol';
import { RoomState } from './room-state';

const message = makeMessage;
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
  });
});

describe(`${RoomState.name} change feed`, () => {
  const user = (seq: number, rev: number, overrides: Partial<Message> = {}) => message(seq, { rev, ...overrides });
  const reaction = (target: Message, emoji: string, profileId: string, added: boolean, count: number, rev: number) => ({
    roomId: 'room',
    messageId: target.id,
    emoji,
    profileId,
    added,
    count,
    rev,
  });

  function loaded(...messages: Message[]): RoomState {
    const sut = new RoomState('room');
    sut.mergePage(messages, { hasMore: false });
    sut.settleRev(Math.max(0, ...messages.map((m) => m.rev ?? 0)));
    return sut;
  }

  it('should follow the highest rev held and report a change skipped as a gap', () => {
    const first = user(1, 1);
    const sut = loaded(first);

    expect(sut.applyUpdated({ ...first, content: 'edited', editedAt: first.createdAt, rev: 2 })).toBe('added');
    expect(sut.lastRev).toBe(2);
    expect(sut.applyNew(user(2, 4))).toBe('gap');

    expect(sut.hasRevGap).toBe(true);
    expect(sut.lastRev).toBe(2);
    expect(seqs(sut)).toEqual([1, 2]);
  });

  it('should close a rev gap with the catch-up page, each message once in its newest state', () => {
    const first = user(1, 1);
    const second = user(2, 2);
    const sut = loaded(first, second);
    sut.applyNew(user(3, 5)); // rev 3 (an edit of 1) and 4 (a reaction on 2) were missed

    const edited = { ...first, content: 'fixed typo', editedAt: first.createdAt, rev: 3 };
    const reacted = { ...second, reactions: { '👍': 1 }, rev: 4 };
    sut.mergePage([edited, reacted], { hasMore: false });
    sut.settleRev(5);

    expect(sut.hasRevGap).toBe(false);
    expect(sut.lastRev).toBe(5);
    expect(sut.messages.map((m) => [m.seq, m.content, m.reactions])).toEqual([
      [1, 'fixed typo', undefined],
      [2, 'message 2', { '👍': 1 }],
      [3, 'message 3', undefined],
    ]);
  });

  it('should keep what it holds when the same or an older change comes again', () => {
    const first = user(1, 1);
    const sut = loaded(first);
    const edited = { ...first, content: 'second version', editedAt: first.createdAt, rev: 2 };
    sut.applyUpdated(edited);
    const before = sut.messages;

    expect(sut.applyUpdated({ ...edited })).toBe('duplicate');
    expect(sut.applyUpdated(first)).toBe('duplicate');
    sut.mergePage([{ ...first, content: 'first version' }, { ...edited }]);

    expect(sut.messages).toBe(before);
    expect(sut.messages[0].content).toBe('second version');
    expect(sut.lastRev).toBe(2);
  });

  it('should replace a deleted message by its tombstone and forget its reactions', () => {
    const first = user(1, 1, { reactions: { '🎉': 2 } });
    const sut = loaded(first, user(2, 2));
    sut.applyReaction(reaction(first, '👍', 'me', true, 1, 3), 'me');

    const tombstone: Message = {
      ...first,
      content: '',
      rev: 4,
      deletedAt: '2026-01-01T00:01:00.000Z',
      deletedBy: 'alice',
    };
    delete tombstone.reactions;
    expect(sut.applyUpdated(tombstone)).toBe('added');

    expect(sut.messages[0]).toEqual(tombstone);
    expect(seqs(sut)).toEqual([1, 2]);
    expect([...sut.myReactions(first.id)]).toEqual([]);
    // A reaction delta that arrives after the delete changes nothing on the tombstone.
    sut.applyReaction(reaction(first, '👍', 'bob', true, 1, 3), 'me');
    expect(sut.messages[0].reactions).toBeUndefined();
  });

  it("should count reaction deltas, know the caller's own, and take each delta once", () => {
    const target = user(1, 1);
    const sut = loaded(target);

    expect(sut.applyReaction(reaction(target, '👍', 'bob', true, 1, 2), 'me')).toBe('added');
    expect(sut.applyReaction(reaction(target, '👍', 'me', true, 2, 3), 'me')).toBe('added');
    expect(sut.applyReaction(reaction(target, '❤️', 'me', true, 1, 4), 'me')).toBe('added');
    expect(sut.applyReaction(reaction(target, '👍', 'me', true, 2, 3), 'me')).toBe('duplicate');
    expect(sut.messages[0].reactions).toEqual({ '👍': 2, '❤️': 1 });
    expect([...sut.myReactions(target.id)].sort()).toEqual(['❤️', '👍']);

    expect(sut.applyReaction(reaction(target, '❤️', 'me', false, 0, 5), 'me')).toBe('added');
    expect(sut.messages[0].reactions).toEqual({ '👍': 2 });
    expect([...sut.myReactions(target.id)]).toEqual(['👍']);
    expect(sut.lastRev).toBe(5);
  });

  it("should take the caller's own reaction from its ack, and not let an older delta undo a newer one", () => {
    const target = user(1, 1);
    const sut = loaded(target);

    expect(sut.applyOwn({ ...target, reactions: { '😂': 1 }, rev: 3 }, { emoji: '😂', mine: true })).toBe(true);
    expect(sut.messages[0].reactions).toEqual({ '😂': 1 });
    expect([...sut.myReactions(target.id)]).toEqual(['😂']);
    // A late delta of an earlier change (the caller took it back at rev 2, then added it again at rev 3).
    expect(sut.applyReaction(reaction(target, '😂', 'me', false, 0, 2), 'me')).toBe('duplicate');

    expect([...sut.myReactions(target.id)]).toEqual(['😂']);
    expect(sut.messages[0].reactions).toEqual({ '😂': 1 });
    expect(sut.lastRev).toBe(2); // the ack's rev 3 comes to the feed with its own event
    expect(sut.applyReaction(reaction(target, '😂', 'me', true, 1, 3), 'me')).toBe('duplicate');
    expect(sut.lastRev).toBe(3);
  });

  it("should take the caller's own reactions from what it reads, replacing what it held, not a newer delta", () => {
    const [one, two] = [user(1, 2, { reactions: { '👍': 2, '🎉': 1 } }), user(2, 3, { reactions: { '❤️': 1 } })];
    const sut = loaded({ ...one, myReactions: ['🎉', '👍'] }, two);
    expect([...sut.myReactions(one.id)]).toEqual(['🎉', '👍']);
    expect(sut.messages[0]).toEqual(one); // "mine" is the room's, not a field of the message held

    // The feed after a time away: on one, the caller took 🎉 back; on two, a delta (rev 6) came before the page.
    sut.applyReaction(reaction(two, '❤️', 'me', false, 0, 6), 'me');
    sut.mergePage([
      { ...one, reactions: { '👍': 2 }, myReactions: ['👍'], rev: 4 },
      { ...two, myReactions: ['❤️'] },
    ]);

    expect([...sut.myReactions(one.id)]).toEqual(['👍']);
    expect([...sut.myReactions(two.id)]).toEqual([]);
    expect(sut.messages.some((m) => 'myReactions' in m)).toBe(false);
  });

  it('should list the answers held to a question in version order', () => {
    const question = user(1, 1);
    const answer = (seq: number, version: number) =>
      user(seq, seq, { role: 'assistant', senderId: null, replyToId: question.id, version });
    const [first, other, third, second] = [answer(2, 1), user(3, 3), answer(4, 3), answer(5, 2)];
    const sut = loaded(question, first, other, third, second);

    expect(sut.versionsOf(question.id).map((m) => m.version)).toEqual([1, 2, 3]);
    expect(sut.versionsOf(other.id)).toEqual([]);
  });
});
