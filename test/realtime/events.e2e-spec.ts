import type { Socket } from 'socket.io-client';
import { expectProblem, signUp, type TestUser } from '../support/http-client';
import {
  ackOnce,
  addMembers,
  collectAll,
  createRoom,
  eventsOfRoom,
  expectErrorAck,
  expectUserMessage,
  HOSTILE_ROOM_IDS,
  nextDisconnect,
  postMany,
  postMessage,
  range,
  seqs,
  storedMessages,
  UNKNOWN_ROOM_ID,
  untilReceived,
  withoutRequestId,
} from '../support/realtime-helpers';
import { untilCount } from '../support/delivery-helpers';
import { collect, connectSocket, nextEvent, settle } from '../support/socket-client';
import { useTestApp } from '../support/test-app';

type ChatEvent = 'room:join' | 'room:leave' | 'message:send' | 'typing:update';

/** A field left out of a payload. */
const MISSING = Symbol('missing');

interface BadPayload {
  label: string;
  /** What is emitted before the callback (an empty list: the callback alone). */
  args: (roomId: string) => unknown[];
  /** The field the details must name. */
  field: string;
  /** false when other fields may be named too (an empty object). */
  only?: boolean;
  /** A string that must not come back in the ack. */
  hostile?: string;
}

const VALID: Record<ChatEvent, (roomId: string) => Record<string, unknown>> = {
  'room:join': (roomId) => ({ roomId }),
  'room:leave': (roomId) => ({ roomId }),
  'message:send': (roomId) => ({ roomId, content: 'not stored', clientId: 'bad-1' }),
  'typing:update': (roomId) => ({ roomId, isTyping: true }),
};

function withField(event: ChatEvent, field: string, value: unknown) {
  return (roomId: string): unknown[] => {
    const payload = VALID[event](roomId);
    if (value === MISSING) {
      delete payload[field];
    } else {
      payload[field] = typeof value === 'function' ? (value as (id: string) => unknown)(roomId) : value;
    }
    return [payload];
  };
}

function fieldCases(event: ChatEvent, field: string, values: [string, unknown][]): BadPayload[] {
  return values.map(([label, value]) => ({ label: `${field} ${label}`, args: withField(event, field, value), field }));
}

function badPayloads(event: ChatEvent): BadPayload[] {
  const valid = VALID[event];
  const shapes: BadPayload[] = [
    { label: 'no payload (only a callback)', args: () => [], field: 'payload' },
    { label: 'null', args: () => [null], field: 'payload' },
    { label: 'a number', args: () => [42], field: 'payload' },
    { label: 'a string', args: (roomId) => [roomId], field: 'payload' },
    { label: 'a boolean', args: () => [true], field: 'payload' },
    { label: 'an array', args: (roomId) => [[valid(roomId)]], field: 'payload' },
    { label: 'two payloads', args: (roomId) => [valid(roomId), valid(roomId)], field: 'payload' },
    { label: 'an empty object', args: () => [{}], field: 'roomId', only: false },
  ];
  const roomIds = fieldCases(event, 'roomId', [
    ['missing', MISSING],
    ['a number', 42],
    ['null', null],
    ['a boolean', true],
    ['an array', (roomId: string) => [roomId]],
    ['an object', (roomId: string) => ({ id: roomId })],
    ['empty', ''],
  ]);
  const hostile: BadPayload[] = HOSTILE_ROOM_IDS.map((roomId) => ({
    label: `roomId ${JSON.stringify(roomId)}`,
    args: withField(event, 'roomId', roomId),
    field: 'roomId',
    hostile: roomId,
  }));
  return [...shapes, ...roomIds, ...hostile, ...specificCases(event)];
}

function specificCases(event: ChatEvent): BadPayload[] {
  switch (event) {
    case 'room:join':
      return [
        ...fieldCases(event, 'afterSeq', [
          ['-1', -1],
          ['1.5', 1.5],
          ['a numeric string', '1'],
          ['a boolean', true],
          ['an array', [1]],
          ['an object', {}],
          ['2^53', 2 ** 53],
        ]),
        ...fieldCases(event, 'limit', [
          ['0', 0],
          ['101', 101],
          ['-1', -1],
          ['1.5', 1.5],
          ['a numeric string', '10'],
          ['a boolean', true],
          ['an array', [10]],
        ]),
      ];
    case 'room:leave':
      return [];
    case 'message:send':
      return [
        ...fieldCases(event, 'content', [
          ['missing', MISSING],
          ['a number', 42],
          ['null', null],
          ['a boolean', true],
          ['an array', ['hi']],
          ['an object', { text: 'hi' }],
          ['empty', ''],
          ['only whitespace', ' \n\t  '],
          ['of 4001 characters', 'a'.repeat(4001)],
          ['of 4002 UTF-16 code units (2001 emoji)', '🙂'.repeat(2001)],
          ['of 60000 characters (under the transport limit)', 'a'.repeat(60_000)],
        ]),
        ...fieldCases(event, 'clientId', [
          ['missing', MISSING],
          ['a number', 42],
          ['null', null],
          ['a boolean', true],
          ['an array', ['c-1']],
          ['an object', {}],
          ['empty', ''],
          ['of 65 characters', 'c'.repeat(65)],
          ['with a space', 'has space'],
          ['with a slash', 'c/1'],
          ['with a non-ASCII letter', 'ü-1'],
        ]),
        ...["'; drop table messages; --", '<script>alert(1)</script>', '../../etc/passwd'].map((clientId) => ({
          label: `clientId ${JSON.stringify(clientId)}`,
          args: withField(event, 'clientId', clientId),
          field: 'clientId',
          hostile: clientId,
        })),
      ];
    case 'typing:update':
      return fieldCases(event, 'isTyping', [
        ['missing', MISSING],
        ['a string', 'true'],
        ['1', 1],
        ['0', 0],
        ['null', null],
        ['an array', [true]],
        ['an object', {}],
      ]);
  }
}

const EVENTS: ChatEvent[] = ['room:join', 'room:leave', 'message:send', 'typing:update'];
const BAD_PAYLOADS: [ChatEvent, string, string, BadPayload][] = EVENTS.flatMap((event) =>
  badPayloads(event).map((bad): [ChatEvent, string, string, BadPayload] => [event, bad.label, bad.field, bad]),
);

describe('Socket.IO events (/chat)', () => {
  const t = useTestApp();

  /** An owner with a private room (AI off) and a member of it. */
  async function roomWithMember(): Promise<{ owner: TestUser; member: TestUser; room: any }> {
    const [owner, member] = await Promise.all([signUp(t.url, 'rt'), signUp(t.url, 'rt')]);
    const room = await createRoom(owner);
    await addMembers(owner, room.id, member);
    return { owner, member, room };
  }

  /** A socket of `user` subscribed to the room (asserts the join worked). */
  async function joined(user: TestUser, roomId: string): Promise<Socket> {
    const socket = await t.sockets.open(user);
    const ack = await ackOnce(socket, 'room:join', { roomId });
    expect(ack.ok).toBe(true);
    return socket;
  }

  /** A room a stranger cannot use: someone else's private room, an unjoined public room, or none at all. */
  async function foreignRoom(kind: string): Promise<{ owner?: TestUser; roomId: string }> {
    if (kind === 'a room that does not exist') {
      return { roomId: UNKNOWN_ROOM_ID };
    }
    const owner = await signUp(t.url, 'rt');
    const room = await createRoom(owner, kind === 'a public room not joined' ? 'public' : 'private');
    return { owner, roomId: room.id };
  }

  const FOREIGN_ROOMS = ['a private room of someone else', 'a public room not joined', 'a room that does not exist'];

  /**
   * Waits until each socket's `collect` list of `event` holds `counts[i]` items, then settles every socket. `settle`
   * proves only what the socket's own instance emitted: with several instances, an event that another instance
   * emitted (the action went through a user's HTTP client or a socket there) comes later, through Redis.
   */
  async function settleAfter(sockets: Socket[], event: string, got: unknown[][], counts: number[]): Promise<void> {
    await Promise.all(sockets.map((socket, i) => untilCount(socket, event, got[i], counts[i], 10_000)));
    for (const socket of sockets) {
      await settle(socket);
    }
  }

  describe('room:join', () => {
    it('should ack the room, the newest page of its messages and hasMore false', async () => {
      const owner = await signUp(t.url, 'rt');
      const room = await createRoom(owner);
      const sent = await postMany(owner, room.id, 3);
      const socket = await t.sockets.open(owner);

      const ack = await ackOnce(socket, 'room:join', { roomId: room.id });

      expect(Object.keys(ack).sort()).toEqual(['hasMore', 'messages', 'ok', 'online', 'room']);
      // Who is online in the room as the joiner sees it: at least the joiner.
      expect(ack.online).toEqual([owner.id]);
      expect(ack.ok).toBe(true);
      expect(ack.room).toEqual((await owner.http.get(`/api/rooms/${room.id}`)).body);
      expect(ack.room).toMatchObject({ id: room.id, ownerId: owner.id, myRole: 'owner', lastSeq: 3 });
      expect(ack.messages).toEqual(sent);
      expect(ack.hasMore).toBe(false);
    });

    it('should ack an empty page for a room without messages', async () => {
      const owner = await signUp(t.url, 'rt');
      const room = await createRoom(owner);
      const socket = await t.sockets.open(owner);

      const ack = await ackOnce(socket, 'room:join', { roomId: room.id });

      expect(ack).toEqual({
        ok: true,
        room: expect.objectContaining({ id: room.id, lastSeq: 0 }),
        messages: [],
        hasMore: false,
        online: expect.any(Array),
      });
    });

    it('should tell a joiner who is already online in the room', async () => {
      const { owner, member, room } = await roomWithMember();
      await joined(owner, room.id);
      const socket = await t.sockets.open(member);

      const ack = await ackOnce(socket, 'room:join', { roomId: room.id });

      expect([...ack.online].sort()).toEqual([owner.id, member.id].sort());
    });

    it('should give a member who is not the owner the room with myRole member', async () => {
      const { member, room } = await roomWithMember();
      const socket = await t.sockets.open(member);

      const ack = await ackOnce(socket, 'room:join', { roomId: room.id });

      expect(ack).toEqual({
        ok: true,
        room: expect.objectContaining({ id: room.id, myRole: 'member' }),
        messages: [],
        hasMore: false,
        online: expect.any(Array),
      });
    });

    it('should give the newest page of limit messages without afterSeq, with hasMore', async () => {
      const owner = await signUp(t.url, 'rt');
      const room = await createRoom(owner);
      await postMany(owner, room.id, 5);
      const socket = await t.sockets.open(owner);

      const two = await ackOnce(socket, 'room:join', { roomId: room.id, limit: 2 });
      const five = await ackOnce(socket, 'room:join', { roomId: room.id, limit: 5 });
      const one = await ackOnce(socket, 'room:join', { roomId: room.id, limit: 1 });

      expect({ seqs: seqs(two.messages), hasMore: two.hasMore }).toEqual({ seqs: [4, 5], hasMore: true });
      expect({ seqs: seqs(five.messages), hasMore: five.hasMore }).toEqual({ seqs: [1, 2, 3, 4, 5], hasMore: false });
      expect({ seqs: seqs(one.messages), hasMore: one.hasMore }).toEqual({ seqs: [5], hasMore: true });
    });

    it('should give the messages after afterSeq oldest first, up to limit, with hasMore', async () => {
      const owner = await signUp(t.url, 'rt');
      const room = await createRoom(owner);
      const sent = await postMany(owner, room.id, 5);
      const socket = await t.sockets.open(owner);

      const pages = [];
      for (const request of [
        { afterSeq: 0 },
        { afterSeq: 1, limit: 2 },
        { afterSeq: 3, limit: 2 },
        { afterSeq: 4 },
        { afterSeq: 5 },
        { afterSeq: 99 },
      ]) {
        const ack = await ackOnce(socket, 'room:join', { roomId: room.id, ...request });
        expect(ack.ok).toBe(true);
        pages.push({ seqs: seqs(ack.messages), hasMore: ack.hasMore });
      }

      expect(pages).toEqual([
        { seqs: [1, 2, 3, 4, 5], hasMore: false },
        { seqs: [2, 3], hasMore: true },
        { seqs: [4, 5], hasMore: false },
        { seqs: [5], hasMore: false },
        { seqs: [], hasMore: false },
        { seqs: [], hasMore: false },
      ]);
      const again = await ackOnce(socket, 'room:join', { roomId: room.id, afterSeq: 2 });
      expect(again.messages).toEqual(sent.slice(2));
    });

    it('should give at most 50 messages when no limit is sent', async () => {
      const owner = await signUp(t.url, 'rt');
      const room = await createRoom(owner);
      await postMany(owner, room.id, 52);
      const socket = await t.sockets.open(owner);

      const newest = await ackOnce(socket, 'room:join', { roomId: room.id });
      const oldest = await ackOnce(socket, 'room:join', { roomId: room.id, afterSeq: 0 });

      expect({ seqs: seqs(newest.messages), hasMore: newest.hasMore }).toEqual({ seqs: range(3, 52), hasMore: true });
      expect({ seqs: seqs(oldest.messages), hasMore: oldest.hasMore }).toEqual({ seqs: range(1, 50), hasMore: true });
    });

    it.each(FOREIGN_ROOMS)('should answer NOT_FOUND for %s and deliver nothing of it afterwards', async (kind) => {
      const { owner, roomId } = await foreignRoom(kind);
      const stranger = await signUp(t.url, 'rt');
      const socket = await t.sockets.open(stranger);

      const ack = await ackOnce(socket, 'room:join', { roomId });
      const received = collectAll(socket);
      if (owner) {
        const res = await owner.http.patch(`/api/rooms/${roomId}`, { name: 'renamed while watched' });
        expect(res.status).toBe(200);
        await postMessage(owner, roomId, 'not for strangers');
      }
      await settle(socket);

      expectErrorAck(ack, 'NOT_FOUND');
      expect(received).toEqual([]);
      const mine = await stranger.http.get('/api/rooms');
      expect(mine.body.rooms.map((r: any) => r.id)).not.toContain(roomId);
    });

    it('should answer the same NOT_FOUND for a hidden room, an unjoined public room and a room that does not exist', async () => {
      const stranger = await signUp(t.url, 'rt');
      const socket = await t.sockets.open(stranger);
      const acks = [];
      for (const kind of FOREIGN_ROOMS) {
        const { roomId } = await foreignRoom(kind);
        acks.push(await ackOnce(socket, 'room:join', { roomId }));
      }

      for (const ack of acks) {
        expectErrorAck(ack, 'NOT_FOUND');
        expect(withoutRequestId(ack)).toEqual(withoutRequestId(acks[0]));
      }
      expect(new Set(acks.map((ack) => ack.error.requestId)).size).toBe(acks.length);
    });

    it('should deliver message:new for messages sent over REST and over sockets after joining', async () => {
      const { owner, member, room } = await roomWithMember();
      const ownerSocket = await joined(owner, room.id);
      const memberSocket = await joined(member, room.id);
      const ownerGot = collect(ownerSocket, 'message:new');
      const memberGot = collect(memberSocket, 'message:new');

      const overRest = await postMessage(owner, room.id, 'over REST', 'rest-1');
      const overSocket = await ackOnce(memberSocket, 'message:send', {
        roomId: room.id,
        content: 'over a socket',
        clientId: 'socket-1',
      });
      await settleAfter([ownerSocket, memberSocket], 'message:new', [ownerGot, memberGot], [2, 2]);

      expect(overSocket).toEqual({ ok: true, message: expect.any(Object), duplicate: false });
      expect(ownerGot).toEqual([{ message: overRest }, { message: overSocket.message }]);
      expect(memberGot).toEqual([{ message: overRest }, { message: overSocket.message }]);
      expect(await storedMessages(owner, room.id)).toEqual([overRest, overSocket.message]);
    });
  });

  describe('room:leave', () => {
    it('should ack ok and deliver only the room’s activity afterwards, while the membership stays', async () => {
      const { owner, member, room } = await roomWithMember();
      const ownerSocket = await joined(owner, room.id);
      const memberSocket = await joined(member, room.id);

      const ack = await ackOnce(memberSocket, 'room:leave', { roomId: room.id });
      const received = collectAll(memberSocket);
      const ownerGot = collect(ownerSocket, 'room:updated');
      const sent = await postMessage(owner, room.id, 'after the leave');
      expect((await owner.http.patch(`/api/rooms/${room.id}`, { name: 'renamed after the leave' })).status).toBe(200);
      expect((await ackOnce(ownerSocket, 'typing:update', { roomId: room.id, isTyping: true })).ok).toBe(true);
      // The owner's calls may go to another instance than the member's socket: wait for its activity, then settle.
      await untilReceived(memberSocket, received, (log) => log.length >= 1, 'the room:activity');
      await settleAfter([ownerSocket], 'room:updated', [ownerGot], [1]);
      await settle(memberSocket);

      expect(ack).toEqual({ ok: true });
      // A member who left the room's channel still hears of its messages in their inbox, and of nothing else.
      expect(received).toEqual([
        [
          'room:activity',
          {
            roomId: room.id,
            lastSeq: sent.seq,
            lastMessage: {
              seq: sent.seq,
              role: 'user',
              senderId: owner.id,
              preview: 'after the leave',
              createdAt: sent.createdAt,
            },
          },
        ],
      ]);
      expect(ownerGot).toHaveLength(1);
      const mine = await member.http.get('/api/rooms');
      expect(mine.body.rooms.map((r: any) => r.id)).toContain(room.id);
      expect((await member.http.get(`/api/rooms/${room.id}/messages`)).body.messages).toEqual([sent]);
    });

    it('should let a member who left the socket room still send, without its own message:new', async () => {
      const { owner, member, room } = await roomWithMember();
      const ownerSocket = await joined(owner, room.id);
      const memberSocket = await joined(member, room.id);
      await ackOnce(memberSocket, 'room:leave', { roomId: room.id });
      const ownerGot = collect(ownerSocket, 'message:new');
      const memberGot = collect(memberSocket, 'message:new');

      const ack = await ackOnce(memberSocket, 'message:send', {
        roomId: room.id,
        content: 'still a member',
        clientId: 'l-1',
      });
      await settleAfter([ownerSocket, memberSocket], 'message:new', [ownerGot, memberGot], [1, 0]);

      expect(ack).toEqual({ ok: true, message: expect.any(Object), duplicate: false });
      expect(ownerGot).toEqual([{ message: ack.message }]);
      expect(memberGot).toEqual([]);
    });

    it('should deliver the room again after joining it again', async () => {
      const owner = await signUp(t.url, 'rt');
      const room = await createRoom(owner);
      const socket = await joined(owner, room.id);
      await ackOnce(socket, 'room:leave', { roomId: room.id });

      const rejoined = await ackOnce(socket, 'room:join', { roomId: room.id });
      const got = nextEvent(socket, 'message:new');
      const sent = await postMessage(owner, room.id, 'after the rejoin');

      expect(rejoined.ok).toBe(true);
      await expect(got).resolves.toEqual({ message: sent });
    });

    it('should keep the socket subscribed to its other rooms', async () => {
      const owner = await signUp(t.url, 'rt');
      const [left, kept] = await Promise.all([createRoom(owner), createRoom(owner)]);
      const socket = await joined(owner, left.id);
      expect((await ackOnce(socket, 'room:join', { roomId: kept.id })).ok).toBe(true);
      await ackOnce(socket, 'room:leave', { roomId: left.id });
      const got = collect(socket, 'message:new');

      await postMessage(owner, left.id, 'in the left room');
      const inKept = await postMessage(owner, kept.id, 'in the kept room');
      await settle(socket);

      expect(got).toEqual([{ message: inKept }]);
    });

    it.each([
      ['a room the socket never joined', 'own'],
      ['a room of someone else', 'foreign'],
      ['a room that does not exist', 'none'],
    ])('should ack ok for %s', async (_label, kind) => {
      const user = await signUp(t.url, 'rt');
      const roomId =
        kind === 'own'
          ? (await createRoom(user)).id
          : kind === 'foreign'
            ? (await foreignRoom('a private room of someone else')).roomId
            : UNKNOWN_ROOM_ID;
      const socket = await t.sockets.open(user);

      expect(await ackOnce(socket, 'room:leave', { roomId })).toEqual({ ok: true });
      expect(socket.connected).toBe(true);
    });
  });

  describe('message:send', () => {
    it('should ack the stored message and deliver message:new exactly once to every subscribed socket', async () => {
      const { owner, member, room } = await roomWithMember();
      const sender = await joined(owner, room.id);
      const ownerSecond = await joined(owner, room.id);
      const memberFirst = await joined(member, room.id);
      const memberSecond = await joined(member, room.id);
      const memberUnsubscribed = await t.sockets.open(member);
      const sockets = [sender, ownerSecond, memberFirst, memberSecond, memberUnsubscribed];
      const got = sockets.map((socket) => collect(socket, 'message:new'));

      const ack = await ackOnce(sender, 'message:send', { roomId: room.id, content: 'hello all', clientId: 'send-1' });
      await settleAfter(sockets, 'message:new', got, [1, 1, 1, 1, 0]);

      expect(Object.keys(ack).sort()).toEqual(['duplicate', 'message', 'ok']);
      expect(ack.ok).toBe(true);
      expect(ack.duplicate).toBe(false);
      expectUserMessage(ack.message, {
        roomId: room.id,
        senderId: owner.id,
        content: 'hello all',
        clientId: 'send-1',
        seq: 1,
      });
      const expected = [{ message: ack.message }];
      expect(got).toEqual([expected, expected, expected, expected, []]);
      expect(await storedMessages(member, room.id)).toEqual([ack.message]);
    });

    it('should trim the content and keep unicode and markup as text', async () => {
      const owner = await signUp(t.url, 'rt');
      const room = await createRoom(owner);
      const socket = await t.sockets.open(owner);
      const content = 'héllo 🙂 <b>bold</b> 100% _x_';

      const ack = await ackOnce(socket, 'message:send', {
        roomId: room.id,
        content: `  \n${content}\t `,
        clientId: 'u-1',
      });

      expect(ack).toEqual({ ok: true, message: expect.objectContaining({ content }), duplicate: false });
      expect((await storedMessages(owner, room.id)).map((m) => m.content)).toEqual([content]);
    });

    it('should accept content of exactly 4000 UTF-16 code units', async () => {
      const owner = await signUp(t.url, 'rt');
      const room = await createRoom(owner);
      const socket = await t.sockets.open(owner);

      const ascii = await ackOnce(socket, 'message:send', {
        roomId: room.id,
        content: 'a'.repeat(4000),
        clientId: 'max-1',
      });
      const emoji = await ackOnce(socket, 'message:send', {
        roomId: room.id,
        content: '🙂'.repeat(2000),
        clientId: 'max-2',
      });

      expect(ascii).toEqual({ ok: true, message: expect.objectContaining({ seq: 1 }), duplicate: false });
      expect(emoji).toEqual({ ok: true, message: expect.objectContaining({ seq: 2 }), duplicate: false });
      expect((await storedMessages(owner, room.id)).map((m) => m.content.length)).toEqual([4000, 4000]);
    });

    it('should answer a repeated clientId with the same message, duplicate true, storing and sending nothing', async () => {
      const { owner, member, room } = await roomWithMember();
      const sender = await joined(owner, room.id);
      const watcher = await joined(member, room.id);
      // The first send's message:new reaches the watcher (maybe on another instance) before the repeats are watched.
      const watcherFirst = nextEvent(watcher, 'message:new');
      const first = await ackOnce(sender, 'message:send', { roomId: room.id, content: 'once', clientId: 'retry-1' });
      await watcherFirst;
      await settle(watcher);
      const senderGot = collect(sender, 'message:new');
      const watcherGot = collect(watcher, 'message:new');

      const again = await ackOnce(sender, 'message:send', { roomId: room.id, content: 'once', clientId: 'retry-1' });
      const changed = await ackOnce(sender, 'message:send', {
        roomId: room.id,
        content: 'other text',
        clientId: 'retry-1',
      });
      await settle(watcher);

      expect(first).toEqual({ ok: true, message: expect.any(Object), duplicate: false });
      expect(again).toEqual({ ok: true, message: first.message, duplicate: true });
      expect(changed).toEqual({ ok: true, message: first.message, duplicate: true });
      expect(senderGot).toEqual([]);
      expect(watcherGot).toEqual([]);
      expect(await storedMessages(owner, room.id)).toEqual([first.message]);
      expect((await owner.http.get(`/api/rooms/${room.id}`)).body.lastSeq).toBe(1);
    });

    it('should treat a clientId first sent over REST as a duplicate over a socket', async () => {
      const owner = await signUp(t.url, 'rt');
      const room = await createRoom(owner);
      const socket = await joined(owner, room.id);
      const overRest = await postMessage(owner, room.id, 'via REST', 'shared-1');
      await settle(socket);
      const got = collect(socket, 'message:new');

      const ack = await ackOnce(socket, 'message:send', { roomId: room.id, content: 'via REST', clientId: 'shared-1' });

      expect(ack).toEqual({ ok: true, message: overRest, duplicate: true });
      expect(got).toEqual([]);
      expect(await storedMessages(owner, room.id)).toEqual([overRest]);
    });

    it('should store the same clientId again for another sender or another room', async () => {
      const { owner, member, room } = await roomWithMember();
      const otherRoom = await createRoom(owner);
      const ownerSocket = await t.sockets.open(owner);
      const memberSocket = await t.sockets.open(member);

      const a = await ackOnce(ownerSocket, 'message:send', { roomId: room.id, content: 'a', clientId: 'same' });
      const b = await ackOnce(memberSocket, 'message:send', { roomId: room.id, content: 'b', clientId: 'same' });
      const c = await ackOnce(ownerSocket, 'message:send', { roomId: otherRoom.id, content: 'c', clientId: 'same' });

      expect([a.duplicate, b.duplicate, c.duplicate]).toEqual([false, false, false]);
      expect(new Set([a.message.id, b.message.id, c.message.id]).size).toBe(3);
      expect((await storedMessages(owner, room.id)).map((m) => m.content)).toEqual(['a', 'b']);
      expect((await storedMessages(owner, otherRoom.id)).map((m) => m.content)).toEqual(['c']);
    });

    it('should refuse a send without clientId with VALIDATION_FAILED on clientId, storing and sending nothing', async () => {
      const owner = await signUp(t.url, 'rt');
      const room = await createRoom(owner);
      const socket = await joined(owner, room.id);
      const got = collect(socket, 'message:new');

      const ack = await ackOnce(socket, 'message:send', { roomId: room.id, content: 'no client id' });

      expectErrorAck(ack, 'VALIDATION_FAILED', 'clientId');
      expect(ack.error.details.map((d: any) => d.field)).toEqual(ack.error.details.map(() => 'clientId'));
      expect(got).toEqual([]);
      expect(await storedMessages(owner, room.id)).toEqual([]);
    });

    it('should refuse content of 4001 characters with VALIDATION_FAILED on content, storing and sending nothing', async () => {
      const owner = await signUp(t.url, 'rt');
      const room = await createRoom(owner);
      const socket = await joined(owner, room.id);
      const got = collect(socket, 'message:new');

      const ack = await ackOnce(socket, 'message:send', {
        roomId: room.id,
        content: 'a'.repeat(4001),
        clientId: 'long-1',
      });

      expectErrorAck(ack, 'VALIDATION_FAILED', 'content');
      expect(got).toEqual([]);
      expect(await storedMessages(owner, room.id)).toEqual([]);
      // The refused clientId is free: the same id stores the message once it fits.
      const retry = await ackOnce(socket, 'message:send', {
        roomId: room.id,
        content: 'a'.repeat(4000),
        clientId: 'long-1',
      });
      expect(retry).toEqual({ ok: true, message: expect.objectContaining({ seq: 1 }), duplicate: false });
    });

    it.each(FOREIGN_ROOMS)('should answer NOT_FOUND for %s, storing and sending nothing', async (kind) => {
      const { owner, roomId } = await foreignRoom(kind);
      const stranger = await signUp(t.url, 'rt');
      const socket = await t.sockets.open(stranger);
      const watcher = owner ? await joined(owner, roomId) : undefined;
      const got = watcher ? collect(watcher, 'message:new') : [];

      const ack = await ackOnce(socket, 'message:send', { roomId, content: 'let me in', clientId: 'x-1' });
      if (watcher) {
        await settle(watcher);
      }

      expectErrorAck(ack, 'NOT_FOUND');
      expect(got).toEqual([]);
      if (owner) {
        expect(await storedMessages(owner, roomId)).toEqual([]);
      }
    });

    it('should drop the connection on a payload over 64 KiB, store nothing, and accept a new connection', async () => {
      const owner = await signUp(t.url, 'rt');
      const room = await createRoom(owner);
      const watcher = await joined(owner, room.id);
      const socket = await joined(owner, room.id);
      const got = collect(watcher, 'message:new');
      const acks: unknown[] = [];

      const dropped = nextDisconnect(socket);
      socket.emit('message:send', { roomId: room.id, content: 'a'.repeat(70_000), clientId: 'huge-1' }, (a: unknown) =>
        acks.push(a),
      );
      const reason = await dropped;
      await settle(watcher);

      // The server closes the transport (ws close 1009); no ack and no Socket.IO disconnect packet come first.
      expect(reason).toBe('transport close');
      expect(socket.connected).toBe(false);
      expect(acks).toEqual([]);
      expect(got).toEqual([]);
      expect(watcher.connected).toBe(true);
      expect(await storedMessages(owner, room.id)).toEqual([]);
      const fresh = await connectSocket(t.url, owner.token);
      try {
        const ack = await ackOnce(fresh, 'room:join', { roomId: room.id });
        expect(ack).toEqual({
          ok: true,
          room: expect.objectContaining({ lastSeq: 0 }),
          messages: [],
          hasMore: false,
          online: expect.any(Array),
        });
      } finally {
        fresh.close();
      }
    });
  });

  describe('typing:update', () => {
    it("should send typing to other members' sockets and not to the typer's own", async () => {
      const { owner, member, room } = await roomWithMember();
      const typer = await joined(owner, room.id);
      const typerSecond = await joined(owner, room.id);
      const memberFirst = await joined(member, room.id);
      const memberSecond = await joined(member, room.id);
      const sockets = [typer, typerSecond, memberFirst, memberSecond];
      const got = sockets.map((socket) => collect(socket, 'typing'));

      const started = await ackOnce(typer, 'typing:update', { roomId: room.id, isTyping: true });
      await settleAfter(sockets, 'typing', got, [0, 0, 1, 1]);
      const afterStart = got.map((list) => [...list]);
      const stopped = await ackOnce(typer, 'typing:update', { roomId: room.id, isTyping: false });
      await settleAfter(sockets, 'typing', got, [0, 0, 2, 2]);

      expect(started).toEqual({ ok: true });
      expect(stopped).toEqual({ ok: true });
      const on = { roomId: room.id, profileId: owner.id, isTyping: true };
      const off = { roomId: room.id, profileId: owner.id, isTyping: false };
      expect(afterStart).toEqual([[], [], [on], [on]]);
      expect(got).toEqual([[], [], [on, off], [on, off]]);
    });

    it('should let a member type whose socket has not joined the room', async () => {
      const { owner, member, room } = await roomWithMember();
      const watcher = await joined(owner, room.id);
      const typer = await t.sockets.open(member);
      const typing = nextEvent(watcher, 'typing');

      const ack = await ackOnce(typer, 'typing:update', { roomId: room.id, isTyping: true });

      expect(ack).toEqual({ ok: true });
      await expect(typing).resolves.toEqual({ roomId: room.id, profileId: member.id, isTyping: true });
    });

    it.each(FOREIGN_ROOMS)('should answer NOT_FOUND for %s and send no typing', async (kind) => {
      const { owner, roomId } = await foreignRoom(kind);
      const stranger = await signUp(t.url, 'rt');
      const socket = await t.sockets.open(stranger);
      const watcher = owner ? await joined(owner, roomId) : undefined;
      const got = watcher ? collect(watcher, 'typing') : [];

      const ack = await ackOnce(socket, 'typing:update', { roomId, isTyping: true });
      if (watcher) {
        await settle(watcher);
      }

      expectErrorAck(ack, 'NOT_FOUND');
      expect(got).toEqual([]);
    });
  });

  describe('bad payloads', () => {
    it.each(BAD_PAYLOADS)(
      'should answer %s with %s by VALIDATION_FAILED on %s, change nothing and keep the socket working',
      async (event, _label, field, bad) => {
        const { owner, member, room } = await roomWithMember();
        const socket = event === 'room:join' ? await t.sockets.open(owner) : await joined(owner, room.id);
        const watcher = await joined(member, room.id);
        const messages = collect(socket, 'message:new');
        const typing = collect(watcher, 'typing');

        const ack = await ackOnce(socket, event, ...bad.args(room.id));
        const probe = await postMessage(owner, room.id, 'probe');
        await settle(socket);
        await settle(watcher);

        expectErrorAck(ack, 'VALIDATION_FAILED', field);
        if (bad.only !== false) {
          expect(ack.error.details.map((d: any) => d.field)).toEqual(ack.error.details.map(() => field));
        }
        if (bad.hostile) {
          expect(JSON.stringify(ack)).not.toContain(bad.hostile);
        }
        // Not subscribed by a refused join, not unsubscribed by a refused leave.
        expect(messages).toEqual(event === 'room:join' ? [] : [{ message: probe }]);
        expect(typing).toEqual([]);
        expect(await storedMessages(owner, room.id)).toEqual([probe]);
        expect(socket.connected).toBe(true);
        const after = await ackOnce(socket, 'room:join', { roomId: room.id });
        expect(after).toEqual({
          ok: true,
          room: expect.objectContaining({ id: room.id }),
          messages: [probe],
          hasMore: false,
          online: expect.any(Array),
        });
      },
    );
  });

  describe('events without a callback', () => {
    it('should store and broadcast a message:send emitted without a callback', async () => {
      const { owner, member, room } = await roomWithMember();
      const watcher = await joined(owner, room.id);
      const sender = await joined(member, room.id);
      const watcherGets = nextEvent(watcher, 'message:new');
      const senderGets = nextEvent(sender, 'message:new');

      sender.emit('message:send', { roomId: room.id, content: 'fire and forget', clientId: 'nocb-1' });
      const { message } = await watcherGets;

      expectUserMessage(message, {
        roomId: room.id,
        senderId: member.id,
        content: 'fire and forget',
        clientId: 'nocb-1',
        seq: 1,
      });
      await expect(senderGets).resolves.toEqual({ message });
      expect(await storedMessages(owner, room.id)).toEqual([message]);
    });

    it('should broadcast a typing:update emitted without a callback', async () => {
      const { owner, member, room } = await roomWithMember();
      const watcher = await joined(owner, room.id);
      const typer = await joined(member, room.id);
      const typing = nextEvent(watcher, 'typing');

      typer.emit('typing:update', { roomId: room.id, isTyping: true });

      await expect(typing).resolves.toEqual({ roomId: room.id, profileId: member.id, isTyping: true });
    });

    it.each(EVENTS)('should survive bad %s payloads without a callback and answer the next event', async (event) => {
      const { owner, member, room } = await roomWithMember();
      const socket = await joined(owner, room.id);
      const watcher = await joined(member, room.id);
      const messages = collect(watcher, 'message:new');
      const typing = collect(watcher, 'typing');
      const received = collectAll(socket);

      for (const bad of badPayloads(event)) {
        socket.emit(event, ...bad.args(room.id));
      }
      socket.emit(event, { roomId: UNKNOWN_ROOM_ID, content: 'x', clientId: 'nocb-bad', isTyping: true });
      const after = await ackOnce(socket, 'room:join', { roomId: room.id });
      await settle(watcher);

      expect(after).toEqual({
        ok: true,
        room: expect.objectContaining({ id: room.id }),
        messages: [],
        hasMore: false,
        online: expect.any(Array),
      });
      expect(socket.connected).toBe(true);
      expect(messages).toEqual([]);
      expect(typing).toEqual([]);
      expect(received.filter(([name]) => name !== 'presence')).toEqual([]);
      expect(await storedMessages(owner, room.id)).toEqual([]);
    });
  });

  describe('unknown events', () => {
    it.each(['nope', 'exception', 'message', 'error', 'room:JOIN', 'room:join ', 'ai:nope'])(
      'should ignore %j: no ack, and the socket keeps working',
      async (event) => {
        const owner = await signUp(t.url, 'rt');
        const room = await createRoom(owner);
        const socket = await t.sockets.open(owner);
        const calls: unknown[] = [];

        socket.emit(event, { roomId: room.id }, (...args: unknown[]) => calls.push(args));
        socket.emit(event, (...args: unknown[]) => calls.push(args));
        await settle(socket);

        expect(calls).toEqual([]);
        expect(socket.connected).toBe(true);
        expect((await ackOnce(socket, 'room:join', { roomId: room.id })).ok).toBe(true);
      },
    );
  });

  describe('events caused over REST', () => {
    it('should send room:updated with the new fields and the caller’s own fields null on PATCH /api/rooms/:id', async () => {
      const { owner, member, room } = await roomWithMember();
      const ownerSocket = await joined(owner, room.id);
      const memberSocket = await joined(member, room.id);
      const unsubscribed = await t.sockets.open(member);
      const got = [ownerSocket, memberSocket, unsubscribed].map((socket) => collect(socket, 'room:updated'));

      const res = await owner.http.patch(`/api/rooms/${room.id}`, {
        name: 'renamed',
        visibility: 'public',
        ai: { mode: 'mention', systemPrompt: 'Be brief.' },
      });
      await settleAfter([ownerSocket, memberSocket, unsubscribed], 'room:updated', got, [1, 1, 0]);

      expect(res.status).toBe(200);
      const expected = { room: { ...res.body, myRole: null, lastReadSeq: null, unread: null, muted: null } };
      expect(expected.room).toMatchObject({
        id: room.id,
        name: 'renamed',
        visibility: 'public',
        ai: expect.objectContaining({ mode: 'mention', systemPrompt: 'Be brief.' }),
      });
      expect(got).toEqual([[expected], [expected], []]);
    });

    it('should send no room:updated when the change is refused', async () => {
      const { owner, member, room } = await roomWithMember();
      const ownerSocket = await joined(owner, room.id);
      const got = collect(ownerSocket, 'room:updated');

      const invalid = await owner.http.patch(`/api/rooms/${room.id}`, { name: '' });
      const notOwner = await member.http.patch(`/api/rooms/${room.id}`, { name: 'taken over' });
      await settle(ownerSocket);

      expectProblem(invalid, 400, 'VALIDATION_FAILED');
      expectProblem(notOwner, 403, 'FORBIDDEN');
      expect(got).toEqual([]);
      expect((await owner.http.get(`/api/rooms/${room.id}`)).body).toEqual(room);
    });

    it('should send member:added on POST /api/rooms/:id/members to subscribed sockets and to the new member', async () => {
      const { owner, member, room } = await roomWithMember();
      const newcomer = await signUp(t.url, 'rt');
      const ownerSocket = await joined(owner, room.id);
      const memberSocket = await joined(member, room.id);
      const newcomerSocket = await t.sockets.open(newcomer);
      const sockets = [ownerSocket, memberSocket, newcomerSocket];
      const got = sockets.map((socket) => collect(socket, 'member:added'));

      const res = await owner.http.post(`/api/rooms/${room.id}/members`, { username: newcomer.username });
      const again = await owner.http.post(`/api/rooms/${room.id}/members`, { username: newcomer.username });
      await settleAfter(sockets, 'member:added', got, [1, 1, 1]);

      expect(res.status).toBe(201);
      expectProblem(again, 409, 'CONFLICT');
      const event = { roomId: room.id, profileId: newcomer.id };
      // The newcomer is not subscribed yet: their own sockets are told, once, so their room list can follow.
      expect(got).toEqual([[event], [event], [event]]);
      expect((await ackOnce(newcomerSocket, 'room:join', { roomId: room.id })).ok).toBe(true);
    });

    it('should send member:added once on POST /api/rooms/:id/join of a public room by a new member', async () => {
      const owner = await signUp(t.url, 'rt');
      const joiner = await signUp(t.url, 'rt');
      const room = await createRoom(owner, 'public');
      const ownerSocket = await joined(owner, room.id);
      const got = collect(ownerSocket, 'member:added');

      const first = await joiner.http.post(`/api/rooms/${room.id}/join`);
      const second = await joiner.http.post(`/api/rooms/${room.id}/join`);
      await settleAfter([ownerSocket], 'member:added', [got], [1]);

      expect([first.status, second.status]).toEqual([200, 200]);
      expect(got).toEqual([{ roomId: room.id, profileId: joiner.id }]);
    });

    it.each([
      ['DELETE /api/rooms/:id/members/:profileId by the owner', 'removed'],
      ['DELETE /api/rooms/:id/members/:profileId by the member itself', 'self'],
      ['POST /api/rooms/:id/leave', 'leave'],
    ])('should send member:removed on %s and then nothing of the room to that member', async (_label, how) => {
      const { owner, member, room } = await roomWithMember();
      const ownerSocket = await joined(owner, room.id);
      // The member's presence, sent by the first socket's instance, has reached the owner's before the second
      // socket joins there (otherwise it could get it too, after its log starts).
      const memberOnline = nextEvent(ownerSocket, 'presence', (p) => p.profileId === member.id && p.online);
      const memberFirst = await joined(member, room.id);
      await memberOnline;
      const memberSecond = await joined(member, room.id);
      await settle(memberFirst);
      const ownerGot = collect(ownerSocket, 'member:removed');
      const ownerUpdates = collect(ownerSocket, 'room:updated');
      const memberEvents = [collectAll(memberFirst), collectAll(memberSecond)];

      const res =
        how === 'leave'
          ? await member.http.post(`/api/rooms/${room.id}/leave`)
          : await (how === 'self' ? member : owner).http.delete(`/api/rooms/${room.id}/members/${member.id}`);
      // The removal's events come from the instance that served the call, which is not every socket's: a socket on
      // the other one is unsubscribed by what Redis carries right behind its member:removed. Only then does what
      // follows come, or it could reach a socket not yet unsubscribed by no fault of the server.
      const removed = (log: [string, any][]) => log.some(([name]) => name === 'member:removed');
      await Promise.all(
        [memberFirst, memberSecond].map((s, i) => untilReceived(s, memberEvents[i], removed, 'member:removed')),
      );
      const afterwards = await postMessage(owner, room.id, 'after the removal');
      expect((await owner.http.patch(`/api/rooms/${room.id}`, { name: 'renamed after removal' })).status).toBe(200);
      await Promise.all([
        untilCount(ownerSocket, 'member:removed', ownerGot, 1, 10_000),
        untilCount(ownerSocket, 'room:updated', ownerUpdates, 1, 10_000),
      ]);
      for (const socket of [ownerSocket, memberFirst, memberSecond]) {
        await settle(socket);
      }

      expect(res.status).toBe(204);
      const event = { roomId: room.id, profileId: member.id };
      expect(ownerGot).toEqual([event]);
      expect(ownerUpdates).toHaveLength(1);
      expect(memberEvents.map((received) => eventsOfRoom(received, room.id))).toEqual([
        [['member:removed', event]],
        [['member:removed', event]],
      ]);
      expect(afterwards.seq).toBe(1);
      expectErrorAck(await ackOnce(memberFirst, 'room:join', { roomId: room.id }), 'NOT_FOUND');
      expectErrorAck(await ackOnce(memberSecond, 'typing:update', { roomId: room.id, isTyping: true }), 'NOT_FOUND');
    });

    it('should send room:deleted on DELETE /api/rooms/:id and then nothing of the room', async () => {
      const { owner, member, room } = await roomWithMember();
      const otherRoom = await createRoom(owner);
      await addMembers(owner, otherRoom.id, member);
      const owners = [await joined(owner, room.id), await joined(owner, room.id)];
      // The member's presence comes from the member's socket's instance: it has reached the owner's sockets (one
      // may be on another instance) before their logs start.
      const memberOnline = owners.map((s) => nextEvent(s, 'presence', (p) => p.profileId === member.id && p.online));
      const sockets = [...owners, await joined(member, room.id)];
      await Promise.all(memberOnline);
      for (const socket of sockets) {
        await settle(socket);
      }
      const received = sockets.map((socket) => collectAll(socket));

      const res = await owner.http.delete(`/api/rooms/${room.id}`);
      const send = await owner.http.post(`/api/rooms/${room.id}/messages`, { content: 'into the void' });
      // Sent by the instance that served the DELETE: a socket on another one gets it through Redis.
      await Promise.all(
        sockets.map((s, i) =>
          untilReceived(s, received[i], (log) => log.some(([name]) => name === 'room:deleted'), 'room:deleted'),
        ),
      );
      for (const socket of sockets) {
        await settle(socket);
      }

      expect(res.status).toBe(204);
      expectProblem(send, 404, 'NOT_FOUND');
      const deleted = ['room:deleted', { roomId: room.id }];
      expect(received.map((events) => eventsOfRoom(events, room.id))).toEqual([[deleted], [deleted], [deleted]]);
      for (const socket of sockets) {
        expectErrorAck(await ackOnce(socket, 'room:join', { roomId: room.id }), 'NOT_FOUND');
        expect((await ackOnce(socket, 'room:join', { roomId: otherRoom.id })).ok).toBe(true);
      }
    });
  });
});
