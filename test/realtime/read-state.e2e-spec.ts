/**
 * Read state (issue 15 item 2): PROTOCOL.md §3 (the Room's `lastMessage`, `lastReadSeq`, `unread`, `muted`,
 * `readReceipts`; `PUT /api/rooms/:id/read`, `PATCH /api/rooms/:id/membership`), §4 (`room:read`, `read:updated`,
 * `read:receipt`) and §7 "Read state", as real clients see it; and, beneath the API, the `room_reads` rows as another
 * user reaches them with raw SQL (row-level security, the column grants and the clamping trigger).
 */
import type { Socket } from 'socket.io-client';
import { watchRoom, useAiApp } from '../support/ai-helpers';
import { expectProblem, signUp, type HttpResult, type TestUser } from '../support/http-client';
import { openOncePerFile, type RawQuery } from '../persistence/persistence-contract';
import { openPostgresDriver } from '../support/persistence-drivers';
import { rawFixtures } from '../support/raw-fixtures';
import {
  ackOnce,
  collectAll,
  expectErrorAck,
  HOSTILE_ROOM_IDS,
  postMessage,
  storedMessages,
  UNKNOWN_ROOM_ID,
  untilReceived,
  withoutRequestId,
} from '../support/realtime-helpers';
import {
  addToRoom,
  createRoom,
  expectRoomShape,
  expectSameNotFound,
  expectValidation,
  getRoom,
  joinRoom,
  myRooms,
  NON_UUID_IDS,
} from '../support/rooms-helpers';
import { ack, settle } from '../support/socket-client';
import { clusterBackend } from '../support/test-backend';

/** RATE_READ_PER_10S in this file's app: low enough to reach in a test, above what any other test here reads. */
const READ_BUDGET = 12;

/** The cap of `unread` (PROTOCOL §3: shown as "99+"). */
const UNREAD_CAP = 100;

/** A field left out of a payload or body. */
const MISSING = Symbol('missing');

/** Payload and body values of `seq` that are not a whole number from 0 to MAX_SAFE_INTEGER. */
const BAD_SEQS: [string, unknown][] = [
  ['missing', MISSING],
  ['a numeric string', '2'],
  ['an empty string', ''],
  ['a float', 1.5],
  ['null', null],
  ['a boolean', true],
  ['an array', [2]],
  ['an object', { value: 2 }],
  ['negative', -1],
  ['2^53 (past MAX_SAFE_INTEGER)', 2 ** 53],
  ['1e21', 1e21],
  ['an SQL-ish string', '2; update public.room_reads set last_read_seq = 0; --'],
  ["2' OR '1'='1", "2' OR '1'='1"],
  ['a string of 60000 digits', '9'.repeat(60_000)],
];

/** Values of `muted` that are not a boolean. */
const BAD_MUTED: [string, unknown][] = Object.entries({
  missing: MISSING,
  'a string': 'true',
  '1': 1,
  '0': 0,
  null: null,
  'an array': [true],
  'an object': { muted: true },
  'an SQL-ish string': "true'; update public.room_reads set muted = true; --",
});

/** JSON bodies written out, for what JSON.stringify cannot produce: prototype keys, numbers past a double. */
const RAW_SEQ_BODIES: [string, string][] = [
  ['__proto__ carrying seq', '{"__proto__": {"seq": 2}}'],
  ['constructor.prototype carrying seq', '{"constructor": {"prototype": {"seq": 2}}}'],
  ['a number past a double (1e400)', '{"seq": 1e400}'],
  ['a number of 400 digits', `{"seq": ${'9'.repeat(400)}}`],
];

const RAW_MUTED_BODIES: [string, string][] = [
  ['__proto__ carrying muted', '{"__proto__": {"muted": true}}'],
  ['constructor.prototype carrying muted', '{"constructor": {"prototype": {"muted": true}}}'],
];

function withField(base: Record<string, unknown>, field: string, value: unknown): Record<string, unknown> {
  const payload = { ...base };
  if (value === MISSING) {
    delete payload[field];
  } else {
    payload[field] = value;
  }
  return payload;
}

/** `PUT /api/rooms/:id/read` as `user`; the body as given (a string is sent as it is). */
function putRead(user: TestUser, roomId: string, body: unknown): Promise<HttpResult> {
  return user.http.request('PUT', `/api/rooms/${encodeURIComponent(roomId)}/read`, body);
}

function patchMembership(user: TestUser, roomId: string, body: unknown): Promise<HttpResult> {
  return user.http.patch(`/api/rooms/${encodeURIComponent(roomId)}/membership`, body);
}

/** `PUT …/read { seq }`, asserting the answer's shape, and returning `{ lastReadSeq, unread }`. */
async function readOverHttp(
  user: TestUser,
  roomId: string,
  seq: number,
): Promise<{ lastReadSeq: number; unread: number }> {
  const res = await putRead(user, roomId, { seq });
  expect(res.status).toBe(200);
  expect(Object.keys(res.body).sort()).toEqual(['lastReadSeq', 'roomId', 'unread']);
  expect(res.body.roomId).toBe(roomId);
  return { lastReadSeq: res.body.lastReadSeq, unread: res.body.unread };
}

/** `room:read { roomId, seq }`, asserting the ack's shape, and returning `{ lastReadSeq, unread }`. */
async function readOverSocket(
  socket: Socket,
  roomId: string,
  seq: number,
): Promise<{ lastReadSeq: number; unread: number }> {
  const answer = await ack(socket, 'room:read', { roomId, seq });
  expect(Object.keys(answer).sort()).toEqual(['lastReadSeq', 'ok', 'roomId', 'unread']);
  expect({ ok: answer.ok, roomId: answer.roomId }).toEqual({ ok: true, roomId });
  return { lastReadSeq: answer.lastReadSeq, unread: answer.unread };
}

/** The Room as it shows on `user`'s home screen (`GET /api/rooms`), with the shape of PROTOCOL §3. */
async function homeRoom(user: TestUser, roomId: string): Promise<any> {
  const room = (await myRooms(user)).find((r) => r.id === roomId);
  if (!room) {
    throw new Error(`room ${roomId} is not in ${user.username}'s GET /api/rooms`);
  }
  expectRoom(room);
  return room;
}

/** The caller's own read state in a room, from `GET /api/rooms`. */
async function readState(user: TestUser, roomId: string): Promise<{ lastReadSeq: number; unread: number }> {
  const { lastReadSeq, unread } = await homeRoom(user, roomId);
  return { lastReadSeq, unread };
}

/** `expectRoomShape`, which assumes no AI provider: this file's app has the fake one, so `ai.available` is true. */
function expectRoom(room: any): void {
  expect(room.ai.available).toBe(true);
  expectRoomShape({ ...room, ai: { ...room.ai, available: false } });
}

/** `count` messages sent over REST by `user`, one after another; their seqs. */
async function sendMany(user: TestUser, roomId: string, count: number, prefix: string): Promise<number[]> {
  const seqs: number[] = [];
  for (let i = 1; i <= count; i += 1) {
    seqs.push((await postMessage(user, roomId, `${prefix} ${i}`)).seq);
  }
  return seqs;
}

/** What `user` has not read: the stored messages after `pointer` that someone else wrote, up to the cap. */
function unreadFor(messages: any[], userId: string, pointer: number): number {
  return Math.min(UNREAD_CAP, messages.filter((m) => m.seq > pointer && m.senderId !== userId).length);
}

/** The `read:*` events of a socket's log. */
function readEvents(received: [string, any][]): [string, any][] {
  return received.filter(([event]) => event.startsWith('read:'));
}

/**
 * The read events in the order the socket should hold them. From one instance they arrive in the order they were
 * sent; with several, those sent by another instance come through Redis and may arrive before or after the others
 * (PROTOCOL §7: a pointer only moves forward, a client keeps the larger seq), so there they are compared by seq.
 */
function readEventsInOrder(received: [string, any][]): [string, any][] {
  const events = readEvents(received);
  return clusterBackend() ? [...events].sort(([, a], [, b]) => a.seq - b.seq) : events;
}

/** Waits for `count` read events on the socket (some may come from another instance), then settles it. */
async function settleReads(socket: Socket, received: [string, any][], count: number): Promise<void> {
  await untilReceived(socket, received, (log) => readEvents(log).length >= count, `${count} read events`);
  await settle(socket);
}

describe('read state (PROTOCOL §3, §4, §7)', () => {
  const t = useAiApp({ RATE_READ_PER_10S: String(READ_BUDGET) });

  /** An owner and `n` members of a new private room with AI off (every message in it is one a test sent). */
  async function group(n: number, visibility: 'private' | 'public' = 'private') {
    const [owner, ...members] = await Promise.all(Array.from({ length: n + 1 }, () => signUp(t.url, 'rs')));
    const room = await createRoom(owner, { name: 'read state', visibility });
    for (const member of members) {
      await addToRoom(owner, room.id, member);
    }
    return { owner, members, member: members[0], room };
  }

  describe('pointers move forward only', () => {
    it('should move the pointer forward over PUT and room:read, leave it on a smaller seq, and answer where it is', async () => {
      const { owner, member: reader, room } = await group(1);
      await sendMany(owner, room.id, 5, 'five');
      const device = await t.sockets.open(reader);
      const received = collectAll(device);

      const answers = [
        await readOverHttp(reader, room.id, 3),
        await readOverSocket(device, room.id, 2),
        await readOverHttp(reader, room.id, 3),
        await readOverSocket(device, room.id, 0),
        await readOverSocket(device, room.id, 5),
        await readOverHttp(reader, room.id, 4),
      ];
      await settleReads(device, received, 2);

      expect(answers).toEqual([
        { lastReadSeq: 3, unread: 2 },
        { lastReadSeq: 3, unread: 2 },
        { lastReadSeq: 3, unread: 2 },
        { lastReadSeq: 3, unread: 2 },
        { lastReadSeq: 5, unread: 0 },
        { lastReadSeq: 5, unread: 0 },
      ]);
      // Only the calls that moved the pointer are announced.
      expect(readEventsInOrder(received)).toEqual([
        ['read:updated', { roomId: room.id, seq: 3 }],
        ['read:updated', { roomId: room.id, seq: 5 }],
      ]);
      expect(await readState(reader, room.id)).toEqual({ lastReadSeq: 5, unread: 0 });
    });

    it('should count a seq past lastSeq as lastSeq, so a later message is unread', async () => {
      const { owner, member: reader, room } = await group(1);
      await sendMany(owner, room.id, 3, 'three');
      const device = await t.sockets.open(reader);
      const received = collectAll(device);

      const past = await readOverHttp(reader, room.id, 1000);
      const farPast = await readOverSocket(device, room.id, Number.MAX_SAFE_INTEGER);
      await settleReads(device, received, 1);

      expect([past, farPast]).toEqual([
        { lastReadSeq: 3, unread: 0 },
        { lastReadSeq: 3, unread: 0 },
      ]);
      expect(readEvents(received)).toEqual([['read:updated', { roomId: room.id, seq: 3 }]]);
      // The pointer was stored at lastSeq, not at 1000: the next message is news.
      const fourth = await postMessage(owner, room.id, 'after the read');
      expect(await readState(reader, room.id)).toEqual({ lastReadSeq: 3, unread: 1 });
      expect(await readOverSocket(device, room.id, fourth.seq)).toEqual({ lastReadSeq: 4, unread: 0 });
    });

    it('should keep the pointer at 0 in a room without messages', async () => {
      const { owner, member: reader, room } = await group(1);
      const device = await t.sockets.open(reader);
      const received = collectAll(device);

      const zero = await readOverHttp(reader, room.id, 0);
      const ahead = await readOverSocket(device, room.id, 7);
      await settle(device);

      expect([zero, ahead]).toEqual([
        { lastReadSeq: 0, unread: 0 },
        { lastReadSeq: 0, unread: 0 },
      ]);
      expect(readEvents(received)).toEqual([]);
      expect(await homeRoom(reader, room.id)).toMatchObject({
        lastSeq: 0,
        lastMessage: null,
        lastReadSeq: 0,
        unread: 0,
        muted: false,
      });
      await postMessage(owner, room.id, 'the first');
      expect(await readState(reader, room.id)).toEqual({ lastReadSeq: 0, unread: 1 });
    });
  });

  describe('unread', () => {
    it("should count others' messages and not the caller's own, each send moving the sender's pointer to it", async () => {
      const { owner, members, room } = await group(2);
      const [a, b] = members;
      const aSocket = await t.sockets.open(a);

      await postMessage(owner, room.id, 'one'); // 1
      await postMessage(a, room.id, 'two'); // 2
      const sentOverSocket = await ack(aSocket, 'message:send', { roomId: room.id, content: 'three', clientId: 'a-3' });
      expect(sentOverSocket).toMatchObject({ ok: true, message: { seq: 3, senderId: a.id } });
      // What you wrote, you have read: a's pointer is at its own message, whether sent over HTTP or the socket.
      expect(await readState(a, room.id)).toEqual({ lastReadSeq: 3, unread: 0 });
      await postMessage(owner, room.id, 'four'); // 4
      await postMessage(b, room.id, 'five'); // 5
      await postMessage(a, room.id, 'six'); // 6

      expect(await readState(owner, room.id)).toEqual({ lastReadSeq: 4, unread: 2 });
      expect(await readState(a, room.id)).toEqual({ lastReadSeq: 6, unread: 0 });
      expect(await readState(b, room.id)).toEqual({ lastReadSeq: 5, unread: 1 });
    });

    it('should count assistant replies, for the asker too', async () => {
      const [owner, asker] = await Promise.all([signUp(t.url, 'rs'), signUp(t.url, 'rs')]);
      const room = await createRoom(owner, { name: 'read state ai', ai: { mode: 'always' } });
      await addToRoom(owner, room.id, asker);
      const { log } = await watchRoom(t.sockets, owner, room.id);

      const question = await postMessage(asker, room.id, 'what is new?');
      const { final } = await log.reply(question.id);

      expect(final).toMatchObject({ seq: question.seq + 1, role: 'assistant', senderId: null, status: 'complete' });
      const askerView = await homeRoom(asker, room.id);
      expect(askerView).toMatchObject({ lastSeq: final.seq, lastReadSeq: question.seq, unread: 1 });
      expect(askerView.lastMessage).toEqual({
        seq: final.seq,
        role: 'assistant',
        senderId: null,
        preview: final.content,
        createdAt: final.createdAt,
      });
      expect(await readState(owner, room.id)).toEqual({ lastReadSeq: 0, unread: 2 });
      expect(await readOverHttp(asker, room.id, final.seq)).toEqual({ lastReadSeq: final.seq, unread: 0 });
    });

    it('should count what concurrent senders sent, each sender reading up to their own last message', async () => {
      const { members, room } = await group(4);
      const [reader, ...senders] = members;
      const perSender = 6;

      await Promise.all(
        senders.flatMap((sender, s) =>
          Array.from({ length: perSender }, (_, i) => postMessage(sender, room.id, `sender ${s} says ${i}`)),
        ),
      );

      const stored = await storedMessages(reader, room.id);
      expect(stored.map((m) => m.seq)).toEqual(Array.from({ length: senders.length * perSender }, (_, i) => i + 1));
      expect(await readState(reader, room.id)).toEqual({ lastReadSeq: 0, unread: senders.length * perSender });
      for (const sender of senders) {
        const ownLast = Math.max(...stored.filter((m) => m.senderId === sender.id).map((m) => m.seq));
        expect({ sender: sender.username, ...(await readState(sender, room.id)) }).toEqual({
          sender: sender.username,
          lastReadSeq: ownLast,
          unread: unreadFor(stored, sender.id, ownLast),
        });
      }
    });

    it(`should count at most ${UNREAD_CAP}, and count exactly again once fewer are left`, async () => {
      const { members, room } = await group(4);
      const [reader, ...senders] = members;
      const perSender = 35; // 105 messages in all, from three senders at once (each one after another)

      await Promise.all(senders.map((sender, s) => sendMany(sender, room.id, perSender, `bulk ${s}`)));

      const total = senders.length * perSender;
      const stored = await storedMessages(reader, room.id);
      expect(stored).toHaveLength(total);
      expect(await homeRoom(reader, room.id)).toMatchObject({ lastSeq: total, lastReadSeq: 0, unread: UNREAD_CAP });
      for (const sender of senders) {
        const { lastReadSeq, unread } = await readState(sender, room.id);
        expect(unread).toBe(unreadFor(stored, sender.id, lastReadSeq));
      }
      expect(await readOverHttp(reader, room.id, 4)).toEqual({ lastReadSeq: 4, unread: UNREAD_CAP });
      expect(await readOverHttp(reader, room.id, 5)).toEqual({ lastReadSeq: 5, unread: UNREAD_CAP });
      expect(await readOverHttp(reader, room.id, 6)).toEqual({ lastReadSeq: 6, unread: total - 6 });
      expect(await readState(reader, room.id)).toEqual({ lastReadSeq: 6, unread: total - 6 });
    });

    it("should start a new member's pointer at the room's lastSeq: its history is not unread", async () => {
      const [owner, added, joiner] = await Promise.all([signUp(t.url, 'rs'), signUp(t.url, 'rs'), signUp(t.url, 'rs')]);
      const hidden = await createRoom(owner, { name: 'history', visibility: 'private' });
      const open = await createRoom(owner, { name: 'open history', visibility: 'public' });
      await sendMany(owner, hidden.id, 4, 'before you');
      await sendMany(owner, open.id, 3, 'before you');

      await addToRoom(owner, hidden.id, added);
      const joined = await joinRoom(joiner, open.id);

      expect(joined).toMatchObject({ lastSeq: 3, lastReadSeq: 3, unread: 0, muted: false });
      expect(await homeRoom(added, hidden.id)).toMatchObject({
        lastSeq: 4,
        lastReadSeq: 4,
        unread: 0,
        lastMessage: expect.objectContaining({ seq: 4, preview: 'before you 4' }),
      });
      await postMessage(owner, hidden.id, 'news');
      await postMessage(owner, open.id, 'news');
      expect(await readState(added, hidden.id)).toEqual({ lastReadSeq: 4, unread: 1 });
      expect(await readState(joiner, open.id)).toEqual({ lastReadSeq: 3, unread: 1 });

      // Leaving ends the membership and its pointer; joining again starts over at lastSeq.
      expect((await joiner.http.post(`/api/rooms/${open.id}/leave`)).status).toBe(204);
      await postMessage(owner, open.id, 'while away');
      expect(await joinRoom(joiner, open.id)).toMatchObject({ lastSeq: 5, lastReadSeq: 5, unread: 0 });
    });
  });

  describe('GET /api/rooms', () => {
    it("should show each room's lastMessage with a preview of at most 140 characters, and each caller's own state", async () => {
      const { owner, member, room } = await group(1);
      const quiet = await createRoom(owner, { name: 'quiet' });
      await addToRoom(owner, quiet.id, member);
      const long = `long ${'0123456789'.repeat(60)}`;

      const sent = await postMessage(member, room.id, long);

      const expectedLast = {
        seq: sent.seq,
        role: 'user',
        senderId: member.id,
        preview: long.slice(0, 140),
        createdAt: sent.createdAt,
      };
      const ownerView = await homeRoom(owner, room.id);
      const memberView = await homeRoom(member, room.id);
      expect(ownerView).toMatchObject({
        lastSeq: 1,
        lastMessage: expectedLast,
        lastReadSeq: 0,
        unread: 1,
        muted: false,
      });
      expect(memberView).toMatchObject({ lastSeq: 1, lastMessage: expectedLast, lastReadSeq: 1, unread: 0 });
      expect(memberView.myRole).toBe('member');
      // The list and the room itself agree.
      expect(await getRoom(owner, room.id)).toEqual(ownerView);
      expect(await getRoom(member, room.id)).toEqual(memberView);
      expect(await homeRoom(member, quiet.id)).toMatchObject({
        lastSeq: 0,
        lastMessage: null,
        lastReadSeq: 0,
        unread: 0,
      });
      // The room with the newest message comes first.
      expect((await myRooms(member)).map((r) => r.id).slice(0, 2)).toEqual([room.id, quiet.id]);
    });

    it('should cut a preview between characters, never inside one', async () => {
      const owner = await signUp(t.url, 'rs');
      const room = await createRoom(owner, { name: 'emoji' });
      const content = `a${'🙂'.repeat(200)}`;

      await postMessage(owner, room.id, content);

      const { preview } = (await homeRoom(owner, room.id)).lastMessage;
      expect(content.startsWith(preview)).toBe(true);
      expect(preview.length).toBeGreaterThan(1);
      expect(preview.isWellFormed()).toBe(true);
      expect(Array.from(preview).length).toBeLessThanOrEqual(140);
    });

    it("should show a stranger a public room without its last message or anyone's read state", async () => {
      const { owner, member, room } = await group(1, 'public');
      await postMessage(member, room.id, 'members only');
      const stranger = await signUp(t.url, 'rs');

      const seen = await getRoom(stranger, room.id);

      expectRoom(seen);
      expect(seen).toMatchObject({ myRole: null, lastSeq: 1, lastMessage: null, lastReadSeq: null, unread: null });
      expect(seen.muted).toBeNull();
      expect(await readState(owner, room.id)).toEqual({ lastReadSeq: 0, unread: 1 });
    });
  });

  describe('read:updated and read:receipt', () => {
    it('should send read:updated to every socket of the reader, the calling one included, joined or not', async () => {
      const { owner, member: reader, room } = await group(1);
      await sendMany(owner, room.id, 3, 'three');
      const [caller, phone, tablet] = [
        await t.sockets.open(reader),
        await t.sockets.open(reader),
        await t.sockets.joined(reader, room.id),
      ];
      const ownerSocket = await t.sockets.open(owner);
      const logs = [caller, phone, tablet, ownerSocket].map((s) => collectAll(s));

      expect(await readOverSocket(caller, room.id, 2)).toEqual({ lastReadSeq: 2, unread: 1 });
      expect(await readOverHttp(reader, room.id, 3)).toEqual({ lastReadSeq: 3, unread: 0 });
      await Promise.all([caller, phone, tablet].map((s, i) => settleReads(s, logs[i], 2)));
      await settle(ownerSocket);

      const [callerGot, phoneGot, tabletGot, ownerGot] = logs.map(readEventsInOrder);
      const expected = [
        ['read:updated', { roomId: room.id, seq: 2 }],
        ['read:updated', { roomId: room.id, seq: 3 }],
      ];
      expect({ callerGot, phoneGot, tabletGot }).toEqual({
        callerGot: expected,
        phoneGot: expected,
        tabletGot: expected,
      });
      // The owner's socket has not joined the room: no receipt, and read:updated is the reader's alone.
      expect(ownerGot).toEqual([]);
    });

    it("should send read:receipt to the room's subscribers, not to the reader's own sockets or unjoined ones", async () => {
      const { owner, members, room } = await group(2);
      const [reader, other] = members;
      await sendMany(owner, room.id, 2, 'two');
      const ownerSocket = await t.sockets.joined(owner, room.id);
      const readerJoined = await t.sockets.joined(reader, room.id);
      const readerElsewhere = await t.sockets.open(reader);
      const otherElsewhere = await t.sockets.open(other);
      const sockets = [ownerSocket, readerJoined, readerElsewhere, otherElsewhere];
      const logs = sockets.map((s) => collectAll(s));

      await readOverHttp(reader, room.id, 1);
      await readOverSocket(readerElsewhere, room.id, 2);
      await Promise.all(sockets.map((s, i) => settleReads(s, logs[i], s === otherElsewhere ? 0 : 2)));

      const [ownerGot, readerJoinedGot, readerElsewhereGot, otherGot] = logs.map(readEventsInOrder);
      expect(ownerGot).toEqual([
        ['read:receipt', { roomId: room.id, profileId: reader.id, seq: 1 }],
        ['read:receipt', { roomId: room.id, profileId: reader.id, seq: 2 }],
      ]);
      const ownUpdates = [
        ['read:updated', { roomId: room.id, seq: 1 }],
        ['read:updated', { roomId: room.id, seq: 2 }],
      ];
      expect(readerJoinedGot).toEqual(ownUpdates);
      expect(readerElsewhereGot).toEqual(ownUpdates);
      expect(otherGot).toEqual([]);
    });

    it("should send no receipt while the owner has turned readReceipts off, and still the reader's read:updated", async () => {
      const { owner, member: reader, room } = await group(1);
      await sendMany(owner, room.id, 3, 'three');
      const ownerSocket = await t.sockets.joined(owner, room.id);
      const readerSocket = await t.sockets.joined(reader, room.id);
      const ownerLog = collectAll(ownerSocket);
      const readerLog = collectAll(readerSocket);

      const off = await owner.http.patch(`/api/rooms/${room.id}`, { readReceipts: false });
      expect(off.status).toBe(200);
      expectRoom(off.body);
      expect(off.body.readReceipts).toBe(false);
      expect(await homeRoom(reader, room.id)).toMatchObject({ readReceipts: false });
      await readOverHttp(reader, room.id, 1);
      await readOverSocket(readerSocket, room.id, 2);
      // On again: the receipts resume with the next move (and, from one reader's calls, in order: none came before).
      expect((await owner.http.patch(`/api/rooms/${room.id}`, { readReceipts: true })).body.readReceipts).toBe(true);
      await readOverHttp(reader, room.id, 3);
      await Promise.all([settleReads(ownerSocket, ownerLog, 1), settleReads(readerSocket, readerLog, 3)]);

      expect(readEvents(ownerLog)).toEqual([['read:receipt', { roomId: room.id, profileId: reader.id, seq: 3 }]]);
      expect(readEventsInOrder(readerLog)).toEqual([1, 2, 3].map((seq) => ['read:updated', { roomId: room.id, seq }]));
      expect(ownerLog.filter(([event]) => event === 'room:updated').map(([, p]) => p.room.readReceipts)).toEqual([
        false,
        true,
      ]);
    });

    it('should refuse readReceipts from anyone but the owner, and anything but a boolean', async () => {
      const { owner, member, room } = await group(1);
      const stranger = await signUp(t.url, 'rs');

      expectProblem(await member.http.patch(`/api/rooms/${room.id}`, { readReceipts: false }), 403, 'FORBIDDEN');
      expectProblem(await stranger.http.patch(`/api/rooms/${room.id}`, { readReceipts: false }), 404, 'NOT_FOUND');
      for (const value of ['false', 0, null, [false], { off: true }]) {
        expectValidation(await owner.http.patch(`/api/rooms/${room.id}`, { readReceipts: value }), 'readReceipts');
      }

      expect((await getRoom(owner, room.id)).readReceipts).toBe(true);
      expect((await getRoom(member, room.id)).readReceipts).toBe(true);
    });
  });

  describe('strangers', () => {
    const FOREIGN = ['a private room of someone else', 'a public room not joined', 'a room that does not exist'];

    it.each(FOREIGN)(
      "should answer NOT_FOUND to PUT, room:read and PATCH membership for %s, changing nobody's pointer",
      async (kind) => {
        const { owner, member, room } = await group(1, kind === 'a public room not joined' ? 'public' : 'private');
        await sendMany(owner, room.id, 2, 'two');
        const roomId = kind === 'a room that does not exist' ? UNKNOWN_ROOM_ID : room.id;
        const stranger = await signUp(t.url, 'rs');
        const strangerSocket = await t.sockets.open(stranger);
        const memberSocket = await t.sockets.joined(member, room.id);
        const memberLog = collectAll(memberSocket);

        const overHttp = await putRead(stranger, roomId, { seq: 2 });
        const overSocket = await ackOnce(strangerSocket, 'room:read', { roomId, seq: 2 });
        const mute = await patchMembership(stranger, roomId, { muted: true });
        const unknown = await putRead(stranger, UNKNOWN_ROOM_ID, { seq: 2 });
        const unknownOverSocket = await ackOnce(strangerSocket, 'room:read', { roomId: UNKNOWN_ROOM_ID, seq: 2 });
        await settle(memberSocket);

        // Not told apart from a room that does not exist.
        expectSameNotFound(overHttp, mute, unknown);
        expectErrorAck(overSocket, 'NOT_FOUND');
        expect(withoutRequestId(overSocket)).toEqual(withoutRequestId(unknownOverSocket));
        expect(readEvents(memberLog)).toEqual([]);
        expect(await homeRoom(member, room.id)).toMatchObject({ lastReadSeq: 0, unread: 2, muted: false });
        expect(await homeRoom(owner, room.id)).toMatchObject({ lastReadSeq: 2, unread: 0, muted: false });
        expect((await myRooms(stranger)).map((r) => r.id)).not.toContain(room.id);
      },
    );

    it('should answer NOT_FOUND to a member who was removed', async () => {
      const { owner, member, room } = await group(1);
      await sendMany(owner, room.id, 2, 'two');
      expect((await owner.http.delete(`/api/rooms/${room.id}/members/${member.id}`)).status).toBe(204);
      const socket = await t.sockets.open(member);

      expectProblem(await putRead(member, room.id, { seq: 2 }), 404, 'NOT_FOUND');
      expectErrorAck(await ackOnce(socket, 'room:read', { roomId: room.id, seq: 2 }), 'NOT_FOUND');
      expectProblem(await patchMembership(member, room.id, { muted: true }), 404, 'NOT_FOUND');
    });
  });

  describe('PATCH /api/rooms/:id/membership', () => {
    it("should toggle muted in the caller's Room only", async () => {
      const { owner, member, room } = await group(1);
      const other = await createRoom(owner, { name: 'other' });
      await addToRoom(owner, other.id, member);

      const muted = await patchMembership(member, room.id, { muted: true });
      const again = await patchMembership(member, room.id, { muted: true });

      expect(muted.status).toBe(200);
      expectRoom(muted.body);
      expect(muted.body).toMatchObject({ id: room.id, myRole: 'member', muted: true, lastReadSeq: 0, unread: 0 });
      expect(again.body).toEqual(muted.body);
      expect(await getRoom(member, room.id)).toEqual(muted.body);
      expect((await homeRoom(member, room.id)).muted).toBe(true);
      expect((await homeRoom(member, other.id)).muted).toBe(false);
      expect((await homeRoom(owner, room.id)).muted).toBe(false);

      const unmuted = await patchMembership(member, room.id, { muted: false });
      expect(unmuted.status).toBe(200);
      expect(unmuted.body.muted).toBe(false);
      expect((await homeRoom(member, room.id)).muted).toBe(false);
      // The owner mutes only for the owner.
      expect((await patchMembership(owner, room.id, { muted: true })).body.muted).toBe(true);
      expect((await homeRoom(member, room.id)).muted).toBe(false);
    });
  });

  describe('bad input', () => {
    /** One room for every case: the member's pointer at 0 of 3 messages, not muted. Any change would show. */
    let fixture: { owner: TestUser; member: TestUser; roomId: string };
    beforeAll(async () => {
      const { owner, member, room } = await group(1);
      await sendMany(owner, room.id, 3, 'three');
      fixture = { owner, member, roomId: room.id };
    });

    /** The member's state is as the fixture left it, and their socket heard nothing of a read. */
    async function expectUnchanged(socket: Socket, received: [string, any][]): Promise<void> {
      await settle(socket);
      expect(readEvents(received)).toEqual([]);
      expect(await homeRoom(fixture.member, fixture.roomId)).toMatchObject({ lastReadSeq: 0, unread: 3, muted: false });
    }

    async function memberDevice(): Promise<{ socket: Socket; received: [string, any][] }> {
      const socket = await t.sockets.open(fixture.member);
      return { socket, received: collectAll(socket) };
    }

    it.each(BAD_SEQS)('should refuse room:read with seq %s: VALIDATION_FAILED on seq', async (_label, value) => {
      const { socket, received } = await memberDevice();

      const answer = await ackOnce(socket, 'room:read', withField({ roomId: fixture.roomId, seq: 2 }, 'seq', value));

      expectErrorAck(answer, 'VALIDATION_FAILED', 'seq');
      await expectUnchanged(socket, received);
    });

    it.each([
      ['missing', MISSING],
      ['a number', 42],
      ['null', null],
      ['an array', [UNKNOWN_ROOM_ID]],
      ['an object', { id: UNKNOWN_ROOM_ID }],
      ['empty', ''],
      ...HOSTILE_ROOM_IDS.map((id): [string, unknown] => [JSON.stringify(id), id]),
    ])('should refuse room:read with roomId %s: VALIDATION_FAILED on roomId', async (_label, value) => {
      const { socket, received } = await memberDevice();

      const answer = await ackOnce(socket, 'room:read', withField({ roomId: fixture.roomId, seq: 2 }, 'roomId', value));

      expectErrorAck(answer, 'VALIDATION_FAILED', 'roomId');
      if (typeof value === 'string' && value.length > 0) {
        expect(JSON.stringify(answer)).not.toContain(value);
      }
      await expectUnchanged(socket, received);
    });

    it.each([
      ['no payload (only a callback)', []],
      ['null', [null]],
      ['a number', [2]],
      ['a string', ['2']],
      ['an array', [[{ seq: 2 }]]],
    ])('should refuse room:read with %s as the payload: VALIDATION_FAILED on payload', async (_label, args) => {
      const { socket, received } = await memberDevice();

      expectErrorAck(await ackOnce(socket, 'room:read', ...(args as unknown[])), 'VALIDATION_FAILED', 'payload');
      await expectUnchanged(socket, received);
    });

    it.each(RAW_SEQ_BODIES.slice(0, 2))(
      'should refuse room:read with %s and no seq of its own: VALIDATION_FAILED on seq',
      async (_label, raw) => {
        const { socket, received } = await memberDevice();
        const payload = { roomId: fixture.roomId, ...(JSON.parse(raw) as object) };

        expectErrorAck(await ackOnce(socket, 'room:read', payload), 'VALIDATION_FAILED', 'seq');
        await expectUnchanged(socket, received);
      },
    );

    it.each(BAD_SEQS)('should refuse PUT …/read with seq %s: 400 VALIDATION_FAILED on seq', async (_label, value) => {
      const { socket, received } = await memberDevice();

      expectValidation(await putRead(fixture.member, fixture.roomId, withField({ seq: 2 }, 'seq', value)), 'seq');
      await expectUnchanged(socket, received);
    });

    it.each(RAW_SEQ_BODIES)('should refuse PUT …/read with %s: 400 VALIDATION_FAILED on seq', async (_label, raw) => {
      const { socket, received } = await memberDevice();

      expectValidation(await putRead(fixture.member, fixture.roomId, raw), 'seq');
      await expectUnchanged(socket, received);
    });

    // PROTOCOL §7: a body that is not JSON, or JSON that is not an object or array, names `body` in its details.
    it.each([
      ['not JSON', '{"seq": '],
      ['a JSON string', '"2"'],
    ])('should refuse PUT …/read with a body that is %s: 400 VALIDATION_FAILED on body', async (_label, raw) => {
      const { socket, received } = await memberDevice();

      expectValidation(await putRead(fixture.member, fixture.roomId, raw), 'body');
      await expectUnchanged(socket, received);
    });

    it('should refuse a PUT …/read body over 64 KiB: 413 PAYLOAD_TOO_LARGE', async () => {
      const { socket, received } = await memberDevice();

      expectProblem(
        await putRead(fixture.member, fixture.roomId, { seq: 2, pad: 'x'.repeat(70_000) }),
        413,
        'PAYLOAD_TOO_LARGE',
      );
      await expectUnchanged(socket, received);
    });

    it.each(NON_UUID_IDS)(
      'should answer PUT …/read and PATCH …/membership on the room id %s: 404 NOT_FOUND',
      async (id) => {
        const { socket, received } = await memberDevice();

        const read = await putRead(fixture.member, id, { seq: 2 });
        const mute = await patchMembership(fixture.member, id, { muted: true });
        const unknown = await putRead(fixture.member, UNKNOWN_ROOM_ID, { seq: 2 });

        expectSameNotFound(read, mute, unknown);
        await expectUnchanged(socket, received);
      },
    );

    it.each(BAD_MUTED)(
      'should refuse PATCH …/membership with muted %s: 400 VALIDATION_FAILED on muted',
      async (_label, value) => {
        const { socket, received } = await memberDevice();

        expectValidation(
          await patchMembership(fixture.member, fixture.roomId, withField({ muted: true }, 'muted', value)),
          'muted',
        );
        await expectUnchanged(socket, received);
      },
    );

    it.each(RAW_MUTED_BODIES)(
      'should refuse PATCH …/membership with %s: 400 VALIDATION_FAILED on muted',
      async (_label, raw) => {
        const { socket, received } = await memberDevice();

        expectValidation(await patchMembership(fixture.member, fixture.roomId, raw), 'muted');
        await expectUnchanged(socket, received);
      },
    );

    it('should ignore prototype keys beside a valid seq: the pointer moves to that seq and no further', async () => {
      const { owner, member, room } = await group(1);
      await sendMany(owner, room.id, 3, 'three');
      const socket = await t.sockets.open(member);

      const overHttp = await putRead(member, room.id, '{"seq": 1, "__proto__": {"seq": 3}, "constructor": {"seq": 3}}');
      const overSocket = await ackOnce(socket, 'room:read', {
        roomId: room.id,
        ...(JSON.parse('{"seq": 2, "__proto__": {"seq": 3}, "constructor": {"prototype": {"seq": 3}}}') as object),
      });

      expect(overHttp.body).toEqual({ roomId: room.id, lastReadSeq: 1, unread: 2 });
      expect(overSocket).toEqual({ ok: true, roomId: room.id, lastReadSeq: 2, unread: 1 });
      // And the server's objects were not polluted: a body without seq is still refused.
      expectValidation(await putRead(member, room.id, {}), 'seq');
      expect(await readState(member, room.id)).toEqual({ lastReadSeq: 2, unread: 1 });
    });
  });

  describe('rate limit', () => {
    it(`should refuse reads over RATE_READ_PER_10S (${READ_BUDGET}) per user, over HTTP and socket alike, with RATE_LIMITED`, async () => {
      const { owner, members, room } = await group(2);
      const [reader, other] = members;
      await sendMany(owner, room.id, READ_BUDGET + 2, 'many');
      const socket = await t.sockets.open(reader);
      const received = collectAll(socket);

      for (let seq = 1; seq <= READ_BUDGET; seq += 1) {
        const answer = seq % 2 ? await readOverHttp(reader, room.id, seq) : await readOverSocket(socket, room.id, seq);
        expect(answer.lastReadSeq).toBe(seq);
      }
      const overSocket = await ackOnce(socket, 'room:read', { roomId: room.id, seq: READ_BUDGET + 1 });
      const overHttp = await putRead(reader, room.id, { seq: READ_BUDGET + 2 });
      await settleReads(socket, received, READ_BUDGET);

      const { retryAfterMs, ...error } = overSocket.error;
      expectErrorAck({ ...overSocket, error }, 'RATE_LIMITED');
      expect(retryAfterMs).toBeGreaterThan(0);
      expect(retryAfterMs).toBeLessThanOrEqual(10_000);
      const body = expectProblem(overHttp, 429, 'RATE_LIMITED');
      expect(body.retryAfterMs).toBeGreaterThan(0);
      expect(body.retryAfterMs).toBeLessThanOrEqual(10_000);
      expect(overHttp.headers.get('retry-after')).toBe(String(Math.ceil(body.retryAfterMs / 1000)));
      // Nothing moved for the refused calls.
      expect(readEventsInOrder(received).map(([, p]) => p.seq)).toEqual(
        Array.from({ length: READ_BUDGET }, (_, i) => i + 1),
      );
      expect(await readState(reader, room.id)).toEqual({ lastReadSeq: READ_BUDGET, unread: 2 });
      // The budget is the reader's own: another member reads on.
      expect(await readOverHttp(other, room.id, READ_BUDGET + 2)).toEqual({ lastReadSeq: READ_BUDGET + 2, unread: 0 });
    });
  });
});

describe('room_reads beneath the API (row-level security, raw SQL)', () => {
  // A fresh migrated database on the test PostgreSQL server, as the persistence suites open it: the app's own database
  // is not reachable from here in every project (in Supabase mode it sits behind the PostgREST stand-in), and the
  // rows, policies and trigger are the same migrations' in every mode.
  const driver = openOncePerFile(openPostgresDriver);
  const f = rawFixtures(() => driver.current.db);

  /** An owner who wrote 3 messages, and two members whose pointers are at 0 (added before the messages). */
  async function roomOfThree() {
    const [owner, a, b] = [await f.user(), await f.user(), await f.user()];
    const roomId = await f.room(owner.id);
    await f.add(owner.id, roomId, a.username);
    await f.add(owner.id, roomId, b.username);
    await f.post(owner.id, roomId, 3);
    return { owner, a, b, roomId };
  }

  const pointers = async (roomId: string): Promise<Record<string, number>> => {
    const { rows } = await driver.current.raw.admin(
      'select profile_id, last_read_seq from public.room_reads where chatroom_id = $1',
      [roomId],
    );
    return Object.fromEntries(rows.map((r) => [r.profile_id, Number(r.last_read_seq)]));
  };

  /** The SQLSTATE a statement fails with, or 'ok'. */
  const outcome = (q: RawQuery, sql: string, values: unknown[]) =>
    q(sql, values).then(
      () => 'ok',
      (error: { code?: string }) => error.code,
    );

  it("should neither show nor change another member's row, nor a stranger's", async () => {
    const { owner, a, b, roomId } = await roomOfThree();
    const stranger = await f.user();
    expect(await pointers(roomId)).toEqual({ [owner.id]: 3, [a.id]: 0, [b.id]: 0 });

    for (const intruder of [a, stranger]) {
      const seen = await driver.current.raw.asUser(intruder.id, async (q) => ({
        select: (await q('select * from public.room_reads where chatroom_id = $1 and profile_id = $2', [roomId, b.id]))
          .rowCount,
        update: (
          await q(
            'update public.room_reads set last_read_seq = 3, muted = true where chatroom_id = $1 and profile_id <> $2',
            [roomId, intruder.id],
          )
        ).rowCount,
        deleted: await outcome(q, 'delete from public.room_reads where chatroom_id = $1', [roomId]),
        inserted: await outcome(
          q,
          'insert into public.room_reads (chatroom_id, profile_id, last_read_seq) values ($1, $2, 0)',
          [roomId, intruder.id],
        ),
        visible: (await q('select profile_id from public.room_reads where chatroom_id = $1', [roomId])).rows.map(
          (r) => r.profile_id,
        ),
      }));
      expect(seen).toEqual({
        select: 0,
        update: 0,
        deleted: '42501',
        inserted: '42501',
        visible: intruder === a ? [a.id] : [],
      });
    }
  });

  it("should clamp a member's own direct write: never backwards, never past last_seq", async () => {
    const { a, roomId } = await roomOfThree();
    const set = (q: RawQuery, seq: number) =>
      q('update public.room_reads set last_read_seq = $2 where chatroom_id = $1 returning last_read_seq', [
        roomId,
        seq,
      ]).then((r) => r.rows.map((row) => Number(row.last_read_seq)));

    const written = await driver.current.raw.asUser(a.id, async (q) => [
      await set(q, 2),
      await set(q, 1),
      await set(q, 0),
      await set(q, -1),
      await set(q, 999),
      await set(q, 2),
    ]);

    expect(written).toEqual([[2], [2], [2], [2], [3], [3]]);
  });

  it('should refuse moving a row to another room or person (no grant on those columns)', async () => {
    const { owner, a, b, roomId } = await roomOfThree();
    const otherRoom = await f.room(owner.id);
    await f.add(owner.id, otherRoom, a.username);

    const codes = await driver.current.raw.asUser(a.id, async (q) => ({
      profile: await outcome(q, 'update public.room_reads set profile_id = $2 where chatroom_id = $1', [roomId, b.id]),
      room: await outcome(q, 'update public.room_reads set chatroom_id = $2 where chatroom_id = $1', [
        roomId,
        otherRoom,
      ]),
      updatedAt: await outcome(q, "update public.room_reads set updated_at = 'epoch' where chatroom_id = $1", [roomId]),
      // Receipts are the owner's setting: a member's direct write changes nothing.
      receipts: await q('update public.chatrooms set read_receipts = false where id = $1', [roomId]).then(
        (r) => r.rowCount,
        (error: { code?: string }) => error.code,
      ),
    }));

    expect(codes).toEqual({ profile: '42501', room: '42501', updatedAt: '42501', receipts: expect.anything() });
    expect([0, '42501']).toContain(codes.receipts);
  });
});
