import type { Socket } from 'socket.io-client';
import {
  createRoom,
  eventLog,
  joinRoom,
  nextEventWithin,
  presenceOf,
  range,
  roomOf,
  postMessage,
  SocketPool,
  storedMessages,
  typingOf,
  untilCount,
} from '../support/delivery-helpers';
import { expectProblem, signUp, type TestUser } from '../support/http-client';
import { ack, collect, nextEvent, settle, untilSocket } from '../support/socket-client';
import { startTestApp, useTestApp, type TestApp } from '../support/test-app';
import { expectUserMessage } from '../support/chat-api';

/** PROTOCOL §4: the server ends a typing state by itself 5 s after the last update. */
const TYPING_IDLE_MS = 5000;
/** A `typing false` caused by an action (send, leave, removal, disconnect) must come well before the idle timer. */
const PROMPT_MS = TYPING_IDLE_MS - 1000;

/** An error ack of PROTOCOL §2 with `code`; returns the error. */
function expectErrorAck(res: any, code: string): any {
  expect(res).toEqual({
    ok: false,
    error: expect.objectContaining({ code, message: expect.any(String), requestId: expect.any(String) }),
  });
  expect(res.error.message.length).toBeGreaterThan(0);
  return res.error;
}

/** A VALIDATION_FAILED ack whose details name `field`. */
function expectValidationAck(res: any, field: string): void {
  const error = expectErrorAck(res, 'VALIDATION_FAILED');
  expect(error.details).toEqual(expect.arrayContaining([{ field, message: expect.any(String) }]));
}

/** A RATE_LIMITED ack with a positive retryAfterMs no longer than the 10 s window. */
function expectRateLimitedAck(res: any): void {
  const error = expectErrorAck(res, 'RATE_LIMITED');
  expect(typeof error.retryAfterMs).toBe('number');
  expect(error.retryAfterMs).toBeGreaterThan(0);
  expect(error.retryAfterMs).toBeLessThanOrEqual(10_000);
}

/** `message:send` over a socket; returns the ack as it came. */
function send(socket: Socket, roomId: string, content: string, clientId: string): Promise<any> {
  return ack(socket, 'message:send', { roomId, content, clientId });
}

const seqsOf = (messages: any[]): number[] => messages.map((m) => m.seq);

/**
 * Resolves once `received` (a `collect` list of `message:new`) holds a message of each seq in `wanted`; rejects after
 * 10 s saying which are missing. With several instances, a message stored by another instance than the socket's comes
 * through Redis, possibly after a `settle` of the socket: wait for it before settling.
 */
function untilSeqs(socket: Socket, received: any[], wanted: number[]): Promise<void> {
  const missing = () => {
    const got = new Set(seqsOf(received.map((e) => e.message)));
    return wanted.filter((seq) => !got.has(seq));
  };
  return untilSocket(
    socket,
    () => missing().length === 0,
    () => `message:new of seqs ${JSON.stringify(missing())} not within 10 s`,
    10_000,
    'message:new',
  );
}

describe('Socket.IO delivery (PROTOCOL §4)', () => {
  const t = useTestApp();

  /** An owner and `count - 1` members (signed up in parallel), all in one fresh AI-off room. */
  async function roomOf5(count: number): Promise<{ users: TestUser[]; room: any }> {
    const users = await Promise.all(range(1, count).map((i) => signUp(t.url, `dl${i}`)));
    const room = await createRoom(users[0], users.slice(1));
    return { users, room };
  }

  describe('message:send fan-out', () => {
    it('should store 100 concurrent sends from 5 members as seqs 1..100 and deliver each exactly once, in seq order, to every socket', async () => {
      const { users, room } = await roomOf5(5);
      const sockets = await Promise.all(users.map((user) => t.sockets.joined(user, room.id)));
      const received = sockets.map((socket) => collect<any>(socket, 'message:new'));
      const arrived = sockets.map((socket, i) => untilCount(socket, 'message:new', received[i], 100, 20_000));

      const sent = users.flatMap((user, u) =>
        range(1, 20).map((i) => ({ user, socket: sockets[u], content: `m-${u}-${i}`, clientId: `c-${u}-${i}` })),
      );
      const acks = await Promise.all(sent.map((s) => send(s.socket, room.id, s.content, s.clientId)));

      acks.forEach((res, i) => {
        expect(res).toEqual({ ok: true, message: expect.any(Object), duplicate: false });
        expectUserMessage(res.message, {
          roomId: room.id,
          senderId: sent[i].user.id,
          content: sent[i].content,
          clientId: sent[i].clientId,
        });
      });
      expect(seqsOf(acks.map((res) => res.message)).sort((a, b) => a - b)).toEqual(range(1, 100));

      const stored = await storedMessages(users[0], room.id);
      expect(seqsOf(stored)).toEqual(range(1, 100));
      const storedById = new Map(stored.map((m) => [m.id, m]));
      for (const res of acks) {
        expect(storedById.get(res.message.id)).toEqual(res.message);
      }

      await Promise.all(arrived);
      await Promise.all(sockets.map((socket) => settle(socket)));
      for (const events of received) {
        expect(events).toHaveLength(100);
        const ids = events.map((e) => e.message.id);
        expect(new Set(ids).size).toBe(100);
        expect(new Set(ids)).toEqual(new Set(storedById.keys()));
        for (const e of events) {
          expect(e.message).toEqual(storedById.get(e.message.id));
        }
        // Seq order: a client that sees seq jump (or go back) concludes it missed something.
        expect(seqsOf(events.map((e) => e.message))).toEqual(range(1, 100));
      }
    });
  });

  describe('room:join with afterSeq (reconnect catch-up)', () => {
    it('should return exactly the messages missed while disconnected, in order, and then deliver new ones live', async () => {
      const { users, room } = await roomOf5(3);
      const [owner, reader, other] = users;
      const ownerSocket = await t.sockets.joined(owner, room.id);
      const first = await t.sockets.joined(reader, room.id);
      const seen = collect<any>(first, 'message:new');
      for (const i of range(1, 4)) {
        expect(await send(ownerSocket, room.id, `before-${i}`, `b-${i}`)).toMatchObject({ ok: true });
      }
      await untilCount(first, 'message:new', seen, 4, 10_000);
      const lastSeq = seen[seen.length - 1].message.seq;
      expect(seqsOf(seen.map((e) => e.message))).toEqual([1, 2, 3, 4]);

      first.close();
      const missed: string[] = [];
      for (const i of range(1, 7)) {
        const content = `missed-${i}`;
        if (i % 2 === 0) {
          await postMessage(other, room.id, content);
        } else {
          expect(await send(ownerSocket, room.id, content, `m-${i}`)).toMatchObject({ ok: true });
        }
        missed.push(content);
      }

      const second = await t.sockets.open(reader);
      const live = collect<any>(second, 'message:new');
      const res = await ack(second, 'room:join', { roomId: room.id, afterSeq: lastSeq });

      expect(res).toEqual({
        ok: true,
        room: expect.any(Object),
        messages: expect.any(Array),
        hasMore: false,
        online: expect.any(Array),
      });
      expect(res.room).toMatchObject({ id: room.id, lastSeq: 11, myRole: 'member' });
      expect(seqsOf(res.messages)).toEqual(range(5, 11));
      expect(res.messages.map((m: any) => m.content)).toEqual(missed);
      expect(res.messages.map((m: any) => m.senderId)).toEqual(
        [owner, other, owner, other, owner, other, owner].map((u) => u.id),
      );

      const next = nextEvent<any>(second, 'message:new');
      await postMessage(other, room.id, 'after reconnect');
      expect((await next).message).toMatchObject({ roomId: room.id, seq: 12, content: 'after reconnect' });
      await settle(second);
      // The backlog came in the ack only; nothing of it is replayed as events.
      expect(seqsOf(live.map((e) => e.message))).toEqual([12]);
      expect(seen).toHaveLength(4);
    });

    it('should page a long gap with limit and hasMore until the client has caught up', async () => {
      const { users, room } = await roomOf5(2);
      const [owner, reader] = users;
      for (const i of range(1, 12)) {
        await postMessage(owner, room.id, `p-${i}`);
      }
      const socket = await t.sockets.open(reader);

      const page1 = await joinRoom(socket, room.id, { afterSeq: 2, limit: 5 });
      expect(seqsOf(page1.messages)).toEqual([3, 4, 5, 6, 7]);
      expect(page1.hasMore).toBe(true);
      const page2 = await joinRoom(socket, room.id, { afterSeq: 7, limit: 5 });
      expect(seqsOf(page2.messages)).toEqual([8, 9, 10, 11, 12]);
      expect(page2.hasMore).toBe(false);
      const page3 = await joinRoom(socket, room.id, { afterSeq: 12 });
      expect(page3.messages).toEqual([]);
      expect(page3.hasMore).toBe(false);
    });

    it.each([
      ['negative', -1],
      ['fractional', 1.5],
      ['a numeric string', '3'],
      ['null', null],
      ['an array', [3]],
      ['an object', { gt: 3 }],
      ['SQL-ish', '0; DROP TABLE messages'],
      ['beyond a safe integer', Number.MAX_SAFE_INTEGER * 4],
    ])(
      'should refuse afterSeq that is %s with VALIDATION_FAILED and not subscribe the socket',
      async (_label, afterSeq) => {
        const { users, room } = await roomOf5(2);
        const [owner, reader] = users;
        const socket = await t.sockets.open(reader);
        const log = eventLog(socket);

        expectValidationAck(await ack(socket, 'room:join', { roomId: room.id, afterSeq }), 'afterSeq');

        const sent = await postMessage(owner, room.id, 'not for the refused socket');
        await settle(socket);
        // Not subscribed: the message reaches the socket only as its inbox's activity.
        expect(log.map((e) => [e.event, e.payload.lastSeq])).toEqual([['room:activity', sent.seq]]);
      },
    );
  });

  describe('room:join race with concurrent sends', () => {
    it('should give every message to a joining socket in the ack or as an event, never neither', async () => {
      const { users, room } = await roomOf5(3);
      const [, sender, joiner] = users;
      const joiners = await Promise.all([t.sockets.open(joiner), t.sockets.open(joiner), t.sockets.open(joiner)]);
      const events = joiners.map((socket) => collect<any>(socket, 'message:new'));
      // Each joiner joins after a different number of sends have been answered: early, middle, late.
      const triggers = new Map<number, Socket>([
        [5, joiners[0]],
        [15, joiners[1]],
        [25, joiners[2]],
      ]);
      const joins = new Map<Socket, Promise<any>>();
      let answered = 0;

      const sends = range(1, 30).map((i) =>
        postMessage(sender, room.id, `race-${i}`).then((message) => {
          answered += 1;
          const socket = triggers.get(answered);
          if (socket) {
            joins.set(socket, ack(socket, 'room:join', { roomId: room.id, limit: 100 }));
          }
          return message;
        }),
      );
      const stored = await Promise.all(sends);
      expect(seqsOf(stored).sort((a, b) => a - b)).toEqual(range(1, 30));

      for (const [i, socket] of joiners.entries()) {
        const res = await joins.get(socket);
        expect(res).toMatchObject({ ok: true, hasMore: false });
        // What the backlog lacks must come as events (from the sender's instance, maybe not this socket's).
        const inBacklog = new Set(seqsOf(res.messages));
        await untilSeqs(
          socket,
          events[i],
          range(1, 30).filter((seq) => !inBacklog.has(seq)),
        );
        await settle(socket);
        const backlog = seqsOf(res.messages);
        expect(backlog).toEqual([...backlog].sort((a, b) => a - b));
        const live = seqsOf(events[i].map((e) => e.message));
        expect(new Set(live).size).toBe(live.length);
        const union = [...new Set([...backlog, ...live])].sort((a, b) => a - b);
        expect(union).toEqual(range(1, 30));
      }
    });
  });

  describe('message:send retries', () => {
    it('should store one message for the same clientId emitted 3 times and broadcast it once', async () => {
      const { users, room } = await roomOf5(2);
      const [owner, watcher] = users;
      const senderSocket = await t.sockets.joined(owner, room.id);
      const watcherSocket = await t.sockets.joined(watcher, room.id);
      const toSender = collect<any>(senderSocket, 'message:new');
      const toWatcher = collect<any>(watcherSocket, 'message:new');
      const payload = { roomId: room.id, content: 'only once', clientId: 'retry-1' };

      const acks = await Promise.all([1, 2, 3].map(() => ack(senderSocket, 'message:send', payload)));

      for (const res of acks) {
        expect(res).toEqual({ ok: true, message: expect.any(Object), duplicate: expect.any(Boolean) });
        expectUserMessage(res.message, {
          roomId: room.id,
          senderId: owner.id,
          content: 'only once',
          clientId: 'retry-1',
        });
      }
      expect(new Set(acks.map((res) => res.message.id)).size).toBe(1);
      expect(new Set(acks.map((res) => res.message.seq))).toEqual(new Set([1]));
      expect(acks.map((res) => res.duplicate).sort()).toEqual([false, true, true]);

      const stored = await storedMessages(owner, room.id);
      expect(stored).toHaveLength(1);
      expect(stored[0].id).toBe(acks[0].message.id);
      // The watcher may be on another instance than the sender's: the message comes through Redis.
      await untilCount(watcherSocket, 'message:new', toWatcher, 1, 10_000);
      await untilCount(senderSocket, 'message:new', toSender, 1, 10_000);
      await settle(watcherSocket);
      await settle(senderSocket);
      expect(toWatcher.map((e) => e.message.id)).toEqual([acks[0].message.id]);
      expect(toSender.map((e) => e.message.id)).toEqual([acks[0].message.id]);
    });

    it('should answer a retry with different content with the stored message, unchanged', async () => {
      const { users, room } = await roomOf5(2);
      const [owner, watcher] = users;
      const senderSocket = await t.sockets.open(owner);
      const watcherSocket = await t.sockets.joined(watcher, room.id);
      const toWatcher = collect<any>(watcherSocket, 'message:new');

      const firstAck = await send(senderSocket, room.id, 'original', 'same-id');
      const retryAck = await send(senderSocket, room.id, 'edited in between', 'same-id');

      expect(firstAck).toMatchObject({ ok: true, duplicate: false });
      expect(retryAck).toEqual({ ok: true, message: firstAck.message, duplicate: true });
      expect(await storedMessages(owner, room.id)).toEqual([firstAck.message]);
      await untilCount(watcherSocket, 'message:new', toWatcher, 1, 10_000);
      await settle(watcherSocket);
      expect(toWatcher).toEqual([{ message: firstAck.message }]);
    });

    it('should treat a socket retry of an HTTP send with the same clientId as a duplicate', async () => {
      const { users, room } = await roomOf5(2);
      const [owner, watcher] = users;
      const senderSocket = await t.sockets.open(owner);
      const watcherSocket = await t.sockets.joined(watcher, room.id);
      const toWatcher = collect<any>(watcherSocket, 'message:new');

      const overHttp = await postMessage(owner, room.id, 'first over http', 'cross-1');
      const overSocket = await send(senderSocket, room.id, 'first over http', 'cross-1');

      expect(overSocket).toEqual({ ok: true, message: overHttp, duplicate: true });
      expect(await storedMessages(owner, room.id)).toEqual([overHttp]);
      await untilCount(watcherSocket, 'message:new', toWatcher, 1, 10_000);
      await settle(watcherSocket);
      expect(toWatcher.map((e) => e.message.id)).toEqual([overHttp.id]);
    });

    it('should keep the same clientId of two different senders apart', async () => {
      const { users, room } = await roomOf5(2);
      const [owner, member] = users;
      const ownerSocket = await t.sockets.open(owner);
      const memberSocket = await t.sockets.open(member);

      const a = await send(ownerSocket, room.id, 'from owner', 'shared-id');
      const b = await send(memberSocket, room.id, 'from member', 'shared-id');

      expect(a).toMatchObject({ ok: true, duplicate: false, message: { seq: 1, senderId: owner.id } });
      expect(b).toMatchObject({ ok: true, duplicate: false, message: { seq: 2, senderId: member.id } });
      expect((await storedMessages(owner, room.id)).map((m) => m.content)).toEqual(['from owner', 'from member']);
    });

    it('should store once what a client with socket.io retries (retries 3, ackTimeout 2000) sends once', async () => {
      const { users, room } = await roomOf5(2);
      const [owner, watcher] = users;
      const client = await t.sockets.retrying(owner, { retries: 3, ackTimeout: 2000 });
      const watcherSocket = await t.sockets.joined(watcher, room.id);
      const toWatcher = collect<any>(watcherSocket, 'message:new');

      const res = await client.emitWithAck('message:send', {
        roomId: room.id,
        content: 'with retries',
        clientId: 'r-1',
      });

      expect(res).toMatchObject({ ok: true, duplicate: false, message: { seq: 1, content: 'with retries' } });
      expect(seqsOf(await storedMessages(owner, room.id))).toEqual([1]);
      await untilCount(watcherSocket, 'message:new', toWatcher, 1, 10_000);
      await settle(watcherSocket);
      expect(toWatcher.map((e) => e.message.id)).toEqual([res.message.id]);
    });

    it('should store once when socket.io retries really resend the packet after ack timeouts', async () => {
      const { users, room } = await roomOf5(2);
      const [owner, watcher] = users;
      const plain = await t.sockets.open(owner);
      // An ack timeout far below a round trip through the database: every try times out and is sent again.
      const client = await t.sockets.retrying(owner, { retries: 3, ackTimeout: 1 });
      const tries: unknown[] = [];
      client.onAnyOutgoing((event: string, payload: unknown) => {
        if (event === 'message:send') {
          tries.push(payload);
        }
      });
      const watcherSocket = await t.sockets.joined(watcher, room.id);
      const toWatcher = collect<any>(watcherSocket, 'message:new');
      const payload = { roomId: room.id, content: 'resent', clientId: 'resent-1' };

      await client.emitWithAck('message:send', payload).catch((error: unknown) => error);
      // The tries reached the server whatever became of their acks, and one of them stored the message. (Awaiting a
      // repeat from another socket would not do: in a cluster it is on the other instance, and may come first.)
      await untilCount(watcherSocket, 'message:new', toWatcher, 1, 10_000);
      const last = await ack(plain, 'message:send', payload);

      expect(tries.length).toBeGreaterThanOrEqual(2);
      expect(last).toMatchObject({ ok: true, duplicate: true, message: { seq: 1, content: 'resent' } });
      expect(seqsOf(await storedMessages(owner, room.id))).toEqual([1]);
      await settle(watcherSocket);
      expect(toWatcher.map((e) => e.message.id)).toEqual([last.message.id]);
    });

    it.each([
      ['missing', undefined],
      ['empty', ''],
      ['a number', 42],
      ['null', null],
      ['an array', ['a']],
      ['an object', { id: 'a' }],
      ['65 characters', 'x'.repeat(65)],
      ['SQL-ish', "a'; DROP TABLE messages; --"],
      ['markup', '<script>'],
      ['wildcards', 'a%_b'],
      ['unicode', 'ключ-✓'],
    ])('should refuse a clientId that is %s with VALIDATION_FAILED and store nothing', async (_label, clientId) => {
      const { users, room } = await roomOf5(2);
      const [owner, watcher] = users;
      const socket = await t.sockets.open(owner);
      const watcherSocket = await t.sockets.joined(watcher, room.id);
      const log = eventLog(watcherSocket);

      const res = await ack(socket, 'message:send', { roomId: room.id, content: 'no key', clientId });

      expectValidationAck(res, 'clientId');
      expect(await storedMessages(owner, room.id)).toEqual([]);
      await settle(watcherSocket);
      expect(log).toEqual([]);
    });
  });

  describe('typing', () => {
    /** A room with a typer (a member), an observer (the owner) and a second observer, the observers joined. */
    async function typingRoom(): Promise<{ owner: TestUser; typer: TestUser; room: any; observers: Socket[] }> {
      const { users, room } = await roomOf5(3);
      const [owner, typer, third] = users;
      const observers = await Promise.all([t.sockets.joined(owner, room.id), t.sockets.joined(third, room.id)]);
      return { owner, typer, room, observers };
    }

    async function startTyping(socket: Socket, observer: Socket, roomId: string, typer: TestUser): Promise<number> {
      const on = nextEvent(observer, 'typing', typingOf(roomId, typer.id, true));
      expect(await ack(socket, 'typing:update', { roomId, isTyping: true })).toEqual({ ok: true });
      expect(await on).toEqual({ roomId, profileId: typer.id, isTyping: true });
      return Date.now();
    }

    /** Awaits the observer's `typing false` of the typer and asserts it came from the action, not the idle timer. */
    async function expectPromptStop(stopped: Promise<unknown>, since: number): Promise<void> {
      await stopped;
      expect(Date.now() - since).toBeLessThan(PROMPT_MS);
    }

    function typingStopped(observer: Socket, roomId: string, typer: TestUser): Promise<unknown> {
      return nextEventWithin(observer, 'typing', typingOf(roomId, typer.id, false), 8000);
    }

    it('should tell the others, never the typer, and end typing by itself 5 s after the last update', async () => {
      const { typer, room, observers } = await typingRoom();
      const typerSockets = [await t.sockets.joined(typer, room.id), await t.sockets.joined(typer, room.id)];
      const toTyper = typerSockets.map((socket) => collect<any>(socket, 'typing'));
      const toObservers = observers.map((socket) => collect<any>(socket, 'typing'));
      const firstOn = nextEvent(observers[1], 'typing', typingOf(room.id, typer.id, true));

      await startTyping(typerSockets[0], observers[0], room.id, typer);
      await firstOn;
      // A repeat while typing is on refreshes the state and tells nobody anything new.
      expect(await ack(typerSockets[1], 'typing:update', { roomId: room.id, isTyping: true })).toEqual({ ok: true });
      const since = Date.now();
      const offs = observers.map((socket) => typingStopped(socket, room.id, typer));

      const [off] = await Promise.all(offs);
      expect(off).toEqual({ roomId: room.id, profileId: typer.id, isTyping: false });
      expect(Date.now() - since).toBeGreaterThanOrEqual(TYPING_IDLE_MS - 500);

      await Promise.all([...observers, ...typerSockets].map((socket) => settle(socket)));
      for (const events of toObservers) {
        expect(events).toEqual([
          { roomId: room.id, profileId: typer.id, isTyping: true },
          { roomId: room.id, profileId: typer.id, isTyping: false },
        ]);
      }
      for (const events of toTyper) {
        expect(events.filter((e) => e.profileId === typer.id)).toEqual([]);
      }
    });

    it('should end typing at once when the typer says isTyping false', async () => {
      const { typer, room, observers } = await typingRoom();
      const typerSocket = await t.sockets.open(typer);
      const since = await startTyping(typerSocket, observers[0], room.id, typer);
      const stopped = typingStopped(observers[0], room.id, typer);

      expect(await ack(typerSocket, 'typing:update', { roomId: room.id, isTyping: false })).toEqual({ ok: true });

      await expectPromptStop(stopped, since);
    });

    it.each(['socket', 'http'] as const)(
      'should send typing false before message:new when the typer sends over %s',
      async (transport) => {
        const { typer, room, observers } = await typingRoom();
        const typerSocket = await t.sockets.joined(typer, room.id);
        const toTyper = collect<any>(typerSocket, 'typing');
        const since = await startTyping(typerSocket, observers[0], room.id, typer);
        const logs = observers.map((socket) => eventLog(socket));
        const arrived = observers.map((socket) => nextEvent(socket, 'message:new'));

        if (transport === 'socket') {
          expect(await send(typerSocket, room.id, 'done typing', 'd-1')).toMatchObject({ ok: true });
        } else {
          await postMessage(typer, room.id, 'done typing');
        }

        await Promise.all(arrived);
        expect(Date.now() - since).toBeLessThan(PROMPT_MS);
        for (const log of logs) {
          const stop = log.findIndex((e) => e.event === 'typing' && typingOf(room.id, typer.id, false)(e.payload));
          const message = log.findIndex((e) => e.event === 'message:new');
          expect(stop).toBeGreaterThanOrEqual(0);
          expect(stop).toBeLessThan(message);
        }
        await settle(typerSocket);
        expect(toTyper).toEqual([]);
      },
    );

    it('should keep typing on while another socket of the typer stays in the room, and end it on room:leave of the last', async () => {
      const { typer, room, observers } = await typingRoom();
      const [a, b] = [await t.sockets.joined(typer, room.id), await t.sockets.joined(typer, room.id)];
      const since = await startTyping(a, observers[0], room.id, typer);
      const log = eventLog(observers[0]);

      expect(await ack(a, 'room:leave', { roomId: room.id })).toEqual({ ok: true });
      await settle(observers[0]);
      expect(log.filter((e) => e.event === 'typing')).toEqual([]);

      const stopped = typingStopped(observers[0], room.id, typer);
      expect(await ack(b, 'room:leave', { roomId: room.id })).toEqual({ ok: true });
      await expectPromptStop(stopped, since);
    });

    it('should end typing when the typer’s only socket disconnects', async () => {
      const { typer, room, observers } = await typingRoom();
      const typerSocket = await t.sockets.joined(typer, room.id);
      const since = await startTyping(typerSocket, observers[0], room.id, typer);
      const stopped = typingStopped(observers[0], room.id, typer);

      typerSocket.close();

      await expectPromptStop(stopped, since);
    });

    it('should keep typing on when one of the typer’s two sockets closes, and end it when both have', async () => {
      const { typer, room, observers } = await typingRoom();
      const [a, b] = [await t.sockets.joined(typer, room.id), await t.sockets.joined(typer, room.id)];
      const since = await startTyping(b, observers[0], room.id, typer);
      const log = eventLog(observers[0]);

      a.close();
      // The server has seen the close once an event of a socket opened after it is answered.
      await t.sockets.joined(typer, room.id).then((probe) => probe.close());
      await settle(observers[0]);
      expect(log.filter((e) => e.event === 'typing')).toEqual([]);

      const stopped = typingStopped(observers[0], room.id, typer);
      b.close();
      await expectPromptStop(stopped, since);
    });

    it('should end typing when the typer’s only socket disconnects without having joined the room', async () => {
      // typing:update is for members whether or not the socket joined the room; "its last socket disconnects" still holds.
      const { typer, room, observers } = await typingRoom();
      const typerSocket = await t.sockets.open(typer);
      const since = await startTyping(typerSocket, observers[0], room.id, typer);
      const stopped = typingStopped(observers[0], room.id, typer);

      typerSocket.close();

      await expectPromptStop(stopped, since);
    });

    it('should end typing when the owner removes the typer', async () => {
      const { owner, typer, room, observers } = await typingRoom();
      const typerSocket = await t.sockets.joined(typer, room.id);
      const since = await startTyping(typerSocket, observers[0], room.id, typer);
      const stopped = typingStopped(observers[0], room.id, typer);

      expect((await owner.http.delete(`/api/rooms/${room.id}/members/${typer.id}`)).status).toBe(204);

      await expectPromptStop(stopped, since);
    });

    it('should end typing when the typer leaves the room over HTTP', async () => {
      const { typer, room, observers } = await typingRoom();
      const typerSocket = await t.sockets.open(typer);
      const since = await startTyping(typerSocket, observers[0], room.id, typer);
      const stopped = typingStopped(observers[0], room.id, typer);

      expect((await typer.http.post(`/api/rooms/${room.id}/leave`)).status).toBe(204);

      await expectPromptStop(stopped, since);
    });
  });

  describe('presence', () => {
    it('should announce a member’s first socket and last socket in the room, not the ones between', async () => {
      const { users, room } = await roomOf5(2);
      const [owner, member] = users;
      const observer = await t.sockets.joined(owner, room.id);
      const presence = collect<any>(observer, 'presence');
      const match = presenceOf(room.id, member.id);

      const online = nextEvent(observer, 'presence', match);
      const a = await t.sockets.joined(member, room.id);
      expect(await online).toEqual({ roomId: room.id, profileId: member.id, online: true });

      const b = await t.sockets.joined(member, room.id);
      expect(await ack(a, 'room:leave', { roomId: room.id })).toEqual({ ok: true });
      await settle(observer);
      expect(presence.filter(match)).toHaveLength(1);

      const offline = nextEvent(observer, 'presence', (p: any) => match(p) && p.online === false);
      b.close();
      expect(await offline).toEqual({ roomId: room.id, profileId: member.id, online: false });
      await settle(observer);
      expect(presence.filter(match)).toEqual([
        { roomId: room.id, profileId: member.id, online: true },
        { roomId: room.id, profileId: member.id, online: false },
      ]);
    });

    it('should stay online when one of two sockets closes and go offline on room:leave of the last', async () => {
      const { users, room } = await roomOf5(2);
      const [owner, member] = users;
      const observer = await t.sockets.joined(owner, room.id);
      const presence = collect<any>(observer, 'presence');
      const match = presenceOf(room.id, member.id);
      // Sent by the instance whose store call came first, maybe not the observer's: waited for, not settled.
      const online = nextEvent(observer, 'presence', match);
      const a = await t.sockets.joined(member, room.id);
      const b = await t.sockets.joined(member, room.id);
      await online;

      a.close();
      await t.sockets.joined(member, room.id).then((probe) => probe.close());
      // The probe above joined and left too: still never the member's last socket, since b stays.
      await settle(observer);
      expect(presence.filter(match)).toEqual([{ roomId: room.id, profileId: member.id, online: true }]);

      const offline = nextEvent(observer, 'presence', (p: any) => match(p) && p.online === false);
      expect(await ack(b, 'room:leave', { roomId: room.id })).toEqual({ ok: true });
      expect(await offline).toEqual({ roomId: room.id, profileId: member.id, online: false });
    });
  });

  describe('authorization of subscriptions', () => {
    it('should tell a removed member member:removed and then nothing more of the room, and refuse its sends', async () => {
      const [owner, removed, newcomer] = await Promise.all([
        signUp(t.url, 'au'),
        signUp(t.url, 'au'),
        signUp(t.url, 'au'),
      ]);
      const room = await createRoom(owner, [removed]);
      const ownerSocket = await t.sockets.joined(owner, room.id);
      // The owner sees the member come online (from another instance, that can follow the join's ack).
      const seenOnline = nextEvent(ownerSocket, 'presence', (p: any) => p.profileId === removed.id && p.online);
      const removedSocket = await t.sockets.joined(removed, room.id);
      await seenOnline;
      const log = eventLog(removedSocket);
      const toOwner = eventLog(ownerSocket);
      const notified = nextEvent(removedSocket, 'member:removed');
      // Sent by the instance of the removed member's socket (through Redis when it is not the owner's).
      const seenOffline = nextEvent(ownerSocket, 'presence', (p: any) => p.profileId === removed.id && !p.online);

      expect((await owner.http.delete(`/api/rooms/${room.id}/members/${removed.id}`)).status).toBe(204);

      expect(await notified).toEqual({ roomId: room.id, profileId: removed.id });
      // Everything the room produces from here on must not reach the removed member.
      expect(await send(ownerSocket, room.id, 'after removal (socket)', 'after-1')).toMatchObject({ ok: true });
      await postMessage(owner, room.id, 'after removal (http)');
      expect(await ack(ownerSocket, 'typing:update', { roomId: room.id, isTyping: true })).toEqual({ ok: true });
      expect((await owner.http.patch(`/api/rooms/${room.id}`, { name: 'renamed' })).status).toBe(200);
      expect((await owner.http.post(`/api/rooms/${room.id}/members`, { username: newcomer.username })).status).toBe(
        201,
      );
      await t.sockets.joined(newcomer, room.id);

      const refusedSend = await send(removedSocket, room.id, 'let me in', 'sneak-1');
      const refusedJoin = await ack(removedSocket, 'room:join', { roomId: room.id });
      const refusedTyping = await ack(removedSocket, 'typing:update', { roomId: room.id, isTyping: true });
      await postMessage(owner, room.id, 'after the refused join');
      await seenOffline;
      await settle(removedSocket);
      await settle(ownerSocket);

      expectErrorAck(refusedSend, 'NOT_FOUND');
      expectErrorAck(refusedJoin, 'NOT_FOUND');
      expectErrorAck(refusedTyping, 'NOT_FOUND');
      expect(log.map((e) => e.event)).toEqual(['member:removed']);
      expect(removedSocket.connected).toBe(true);
      const stored = await storedMessages(owner, room.id);
      expect(stored.map((m) => m.content)).toEqual([
        'after removal (socket)',
        'after removal (http)',
        'after the refused join',
      ]);
      expect(toOwner.filter((e) => e.event === 'typing' && e.payload.profileId === removed.id)).toEqual([]);
      expect(toOwner.filter((e) => e.event === 'member:removed').map((e) => e.payload)).toEqual([
        { roomId: room.id, profileId: removed.id },
      ]);
      // Removal unsubscribed the member's last socket: it left the room.
      expect(
        toOwner.filter((e) => e.event === 'presence' && e.payload.profileId === removed.id).map((e) => e.payload),
      ).toEqual([{ roomId: room.id, profileId: removed.id, online: false }]);
    });

    it('should unsubscribe every socket of a deleted room after room:deleted', async () => {
      const { users, room } = await roomOf5(2);
      const [owner, member] = users;
      const ownerSocket = await t.sockets.joined(owner, room.id);
      const memberSocket = await t.sockets.joined(member, room.id);
      const spare = await t.sockets.joined(member, room.id);
      const toOwner = eventLog(ownerSocket);
      const toMember = eventLog(memberSocket);
      const deleted = [ownerSocket, memberSocket, spare].map((socket) => nextEvent(socket, 'room:deleted'));

      expect((await owner.http.delete(`/api/rooms/${room.id}`)).status).toBe(204);

      for (const payload of await Promise.all(deleted)) {
        expect(payload).toEqual({ roomId: room.id });
      }
      // Were any socket still subscribed, the member's sockets closing would tell it presence.
      spare.close();
      expectErrorAck(await ack(memberSocket, 'room:join', { roomId: room.id }), 'NOT_FOUND');
      expectErrorAck(await send(ownerSocket, room.id, 'into the void', 'void-1'), 'NOT_FOUND');
      expectErrorAck(await ack(ownerSocket, 'typing:update', { roomId: room.id, isTyping: true }), 'NOT_FOUND');
      memberSocket.close();
      const probe = await t.sockets.open(member);
      await settle(probe);
      await settle(ownerSocket);

      expectProblem(await owner.http.get(`/api/rooms/${room.id}`), 404, 'NOT_FOUND');
      for (const log of [toOwner, toMember]) {
        expect(log.filter((e) => roomOf(e) === room.id)).toEqual([
          { event: 'room:deleted', payload: { roomId: room.id } },
        ]);
      }
    });
  });

  describe('rate limits (RATE_SEND_PER_10S 5, RATE_TYPING_PER_10S 3)', () => {
    let limited: TestApp;
    let limitedPool: SocketPool;

    beforeAll(async () => {
      limited = await startTestApp({ RATE_SEND_PER_10S: '5', RATE_TYPING_PER_10S: '3' });
      limitedPool = new SocketPool(limited.url);
    });

    afterEach(() => {
      limitedPool.closeAll();
    });

    afterAll(async () => {
      limitedPool?.closeAll();
      await limited?.close();
    });

    async function limitedRoom(): Promise<{ owner: TestUser; other: TestUser; room: any }> {
      const [owner, other] = await Promise.all([signUp(limited.url, 'rl'), signUp(limited.url, 'rl')]);
      const room = await createRoom(owner, [other]);
      return { owner, other, room };
    }

    it('should accept 5 of a burst of 8 sends, refuse 3 with RATE_LIMITED, store none of them and keep the socket', async () => {
      const { owner, other, room } = await limitedRoom();
      const socket = await limitedPool.open(owner);

      const acks = await Promise.all(range(1, 8).map((i) => send(socket, room.id, `burst-${i}`, `burst-${i}`)));

      const accepted = acks.filter((res) => res.ok === true);
      const refused = acks.filter((res) => res.ok !== true);
      expect(accepted).toHaveLength(5);
      expect(refused).toHaveLength(3);
      refused.forEach(expectRateLimitedAck);
      const stored = await storedMessages(owner, room.id);
      expect(seqsOf(stored)).toEqual([1, 2, 3, 4, 5]);
      expect(new Set(stored.map((m) => m.content))).toEqual(new Set(accepted.map((res) => res.message.content)));

      expect(socket.connected).toBe(true);
      expect(await ack(socket, 'room:join', { roomId: room.id })).toMatchObject({ ok: true });
      const otherSocket = await limitedPool.open(other);
      expect(await send(otherSocket, room.id, 'someone else', 'else-1')).toMatchObject({
        ok: true,
        duplicate: false,
        message: { seq: 6, senderId: other.id },
      });
    });

    it('should count HTTP and socket sends against one budget', async () => {
      const { owner, room } = await limitedRoom();
      const socket = await limitedPool.open(owner);

      for (const i of range(1, 3)) {
        await postMessage(owner, room.id, `http-${i}`);
      }
      const socketAcks = [];
      for (const i of range(1, 3)) {
        socketAcks.push(await send(socket, room.id, `socket-${i}`, `s-${i}`));
      }
      const overHttp = await owner.http.post(`/api/rooms/${room.id}/messages`, { content: 'http over the limit' });

      expect(socketAcks[0]).toMatchObject({ ok: true });
      expect(socketAcks[1]).toMatchObject({ ok: true });
      expectRateLimitedAck(socketAcks[2]);
      const problem = expectProblem(overHttp, 429, 'RATE_LIMITED');
      expect(problem.retryAfterMs).toBeGreaterThan(0);
      expect(Number(overHttp.headers.get('retry-after'))).toBe(Math.ceil(problem.retryAfterMs / 1000));
      expect((await storedMessages(owner, room.id)).map((m) => m.content)).toEqual([
        'http-1',
        'http-2',
        'http-3',
        'socket-1',
        'socket-2',
      ]);
    });

    it('should refuse the 4th typing update of a burst with RATE_LIMITED and not apply it', async () => {
      const { owner, other, room } = await limitedRoom();
      const observer = await limitedPool.joined(owner, room.id);
      const typing = collect<any>(observer, 'typing');
      const typerSocket = await limitedPool.open(other);

      const acks = [];
      for (const isTyping of [true, false, true, false]) {
        acks.push(await ack(typerSocket, 'typing:update', { roomId: room.id, isTyping }));
      }

      expect(acks.slice(0, 3)).toEqual([{ ok: true }, { ok: true }, { ok: true }]);
      expectRateLimitedAck(acks[3]);
      expect(typerSocket.connected).toBe(true);
      await settle(observer);
      // The refused `false` changed nothing: the typer is still typing as far as the others know.
      expect(typing.map((e) => e.isTyping)).toEqual([true, false, true]);
    });
  });
});
