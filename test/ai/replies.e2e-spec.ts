import { randomUUID } from 'node:crypto';
import {
  addMembers,
  conversationOf,
  createAiRoom,
  EventLog,
  expectContiguous,
  expectErrorAck,
  expectFailedReply,
  expectStartedReply,
  gate,
  ISO_UTC,
  postMessage,
  storedMessage,
  storedMessages,
  UNKNOWN_ID,
  watchRoom,
  within,
  useAiApp,
} from '../support/ai-helpers';
import { DEFAULT_REPLY } from '../support/fake-openai';
import { signUp } from '../support/http-client';
import { ack, settle } from '../support/socket-client';

const clientId = (): string => `c-${randomUUID()}`;

/** Sends over the socket and returns the stored question (the ack's message). */
async function ask(socket: Parameters<typeof ack>[0], roomId: string, content: string, id = clientId()): Promise<any> {
  const res = await ack(socket, 'message:send', { roomId, content, clientId: id });
  expect(res).toMatchObject({ ok: true, duplicate: false });
  return res.message;
}

/** The assistant messages of a room, as its owner reads them back. */
async function repliesIn(user: Parameters<typeof storedMessages>[0], roomId: string): Promise<any[]> {
  return (await storedMessages(user, roomId)).filter((m) => m.role === 'assistant');
}

describe('AI replies (PROTOCOL.md §5)', () => {
  const testApp = useAiApp({
    AI_FIRST_TOKEN_TIMEOUT_MS: '500',
    AI_STALL_TIMEOUT_MS: '500',
  });

  describe('start-up', () => {
    it('should send the configured provider nothing before anyone asks (the client warm-up stays on loopback)', () => {
      expect(testApp.fake.requests).toHaveLength(0);
    });
  });

  describe('a question in an always room', () => {
    it('should stream the reply to every member socket: message:new, contiguous deltas, message:updated complete', async () => {
      const owner = await signUp(testApp.url, 'ai_own');
      const member = await signUp(testApp.url, 'ai_mem');
      const room = await createAiRoom(owner, { mode: 'always' });
      await addMembers(owner, room.id, member);
      const watchers = [
        await watchRoom(testApp.sockets, owner, room.id),
        await watchRoom(testApp.sockets, owner, room.id),
        await watchRoom(testApp.sockets, member, room.id),
      ];
      const chunks = ['Hel', 'lo, ', 'wörld ', '🙂 and ', 'more', '!'];
      testApp.fake.script({ kind: 'stream', chunks, delayMs: 40 });
      const before = testApp.fake.requests.length;

      const question = await ask(watchers[0].socket, room.id, 'What is up?');

      for (const { log, socket } of watchers) {
        const seen = await log.reply(question.id);
        expectStartedReply(seen.created, question);
        const questionAt = log.entries.findIndex(([e, p]) => e === 'message:new' && p.message.id === question.id);
        expect(questionAt).toBeGreaterThanOrEqual(0);
        expect(questionAt).toBeLessThan(seen.createdAt);
        expect(seen.deltas.length).toBeGreaterThan(0);
        expect(expectContiguous(seen.deltas, room.id, seen.created.id)).toBe(chunks.join(''));
        expect(seen.final).toEqual({
          ...seen.created,
          // Its final status is the room's next change.
          rev: seen.created.rev + 1,
          content: chunks.join(''),
          status: 'complete',
          updatedAt: expect.stringMatching(ISO_UTC),
        });
        await settle(socket);
        const after = log.entries.slice(seen.finalAt + 1);
        expect(after.filter(([, p]) => p?.messageId === seen.created.id || p?.message?.id === seen.created.id)).toEqual(
          [],
        );
      }
      const { final } = await watchers[2].log.reply(question.id);
      expect(await storedMessages(owner, room.id)).toEqual([question, final]);
      expect(await storedMessages(member, room.id)).toEqual([question, final]);
      expect(testApp.fake.requests.length - before).toBe(1);
    });
  });

  describe('mention mode', () => {
    const NOT_MENTIONS = [
      '@aiden',
      '@ai_bot',
      'me@ai',
      '@ai-x',
      'mail me@ai.com',
      'x_@ai',
      '@ai2',
      '@AIrbus',
      'ai',
      'at ai',
    ];
    const MENTIONS = ['hey @AI, help', '@ai', '(@ai)', '@Ai?', 'ça va @ai', 'thanks\n@ai'];

    it('should not reply to a message without @ai as a word of its own', async () => {
      const owner = await signUp(testApp.url, 'ai_men');
      const room = await createAiRoom(owner, { mode: 'mention' });
      const { socket, log } = await watchRoom(testApp.sockets, owner, room.id);
      const before = testApp.fake.requests.length;

      const ignored = [];
      for (const content of NOT_MENTIONS) {
        ignored.push(await ask(socket, room.id, content));
      }
      await settle(socket);
      expect(testApp.fake.requests.length - before).toBe(0);
      // Replies in a room come in the order of their questions: once the probe's reply ends, none other is pending.
      const probe = await ask(socket, room.id, 'and now @ai');
      const seen = await log.reply(probe.id);

      expect(seen.final.status).toBe('complete');
      expect(await repliesIn(owner, room.id)).toEqual([seen.final]);
      expect(log.of('message:new').filter((p) => p.message.role === 'assistant')).toHaveLength(1);
      expect(testApp.fake.requests.length - before).toBe(1);
      expect((await storedMessages(owner, room.id)).slice(0, ignored.length)).toEqual(ignored);
    });

    it.each(MENTIONS)('should reply to %j', async (content) => {
      const owner = await signUp(testApp.url, 'ai_men');
      const room = await createAiRoom(owner, { mode: 'mention' });
      const { socket, log } = await watchRoom(testApp.sockets, owner, room.id);
      const before = testApp.fake.requests.length;

      const question = await ask(socket, room.id, content);
      const seen = await log.reply(question.id);

      expectStartedReply(seen.created, question);
      expect(seen.final).toMatchObject({ status: 'complete', content: DEFAULT_REPLY, replyToId: question.id });
      expect(testApp.fake.requests.length - before).toBe(1);
      expect(conversationOf(testApp.fake.requests[before].body).at(-1)).toEqual({
        role: 'user',
        content: content.trim(),
      });
    });
  });

  describe('off mode', () => {
    it('should never reply and send the provider nothing, even to a mention', async () => {
      const owner = await signUp(testApp.url, 'ai_off');
      const room = await createAiRoom(owner, { mode: 'off' });
      const { socket, log } = await watchRoom(testApp.sockets, owner, room.id);
      const before = testApp.fake.requests.length;

      const first = await ask(socket, room.id, 'hello @ai, are you there?');
      const second = await ask(socket, room.id, 'anyone?');
      await settle(socket);

      expect(testApp.fake.requests.length - before).toBe(0);
      expect(await storedMessages(owner, room.id)).toEqual([first, second]);
      expect(testApp.fake.requests.length - before).toBe(0);
      // Turned on later, the room answers only what is asked from then on.
      const patched = await owner.http.patch(`/api/rooms/${room.id}`, { ai: { mode: 'always' } });
      expect(patched.status).toBe(200);
      const third = await ask(socket, room.id, 'and now?');
      const seen = await log.reply(third.id);
      expect(seen.final.status).toBe('complete');
      expect(await storedMessages(owner, room.id)).toEqual([first, second, third, seen.final]);
      expect(testApp.fake.requests.length - before).toBe(1);
    });
  });

  describe('order', () => {
    it('should answer two questions sent back to back one at a time, each with its own question last', async () => {
      const owner = await signUp(testApp.url, 'ai_ord');
      const room = await createAiRoom(owner, { mode: 'always' });
      const { socket, log } = await watchRoom(testApp.sockets, owner, room.id);
      const hold = gate();
      testApp.fake.script(
        { kind: 'gate', chunks: ['First ', 'answer.'], release: hold.release },
        { kind: 'stream', chunks: ['Second ', 'answer.'] },
      );
      const before = testApp.fake.requests.length;

      const sent = await Promise.all([
        ack(socket, 'message:send', { roomId: room.id, content: 'Question one?', clientId: clientId() }),
        ack(socket, 'message:send', { roomId: room.id, content: 'Question two?', clientId: clientId() }),
      ]);
      const [q1, q2] = sent.map((res) => res.message).sort((a, b) => a.seq - b.seq);
      const started = await log.replyStarted(q1.id);
      await log.firstDelta(started.id);
      hold.open();
      const a1 = await log.reply(q1.id);
      const a2 = await log.reply(q2.id);

      expect(a1.final).toMatchObject({ status: 'complete', content: 'First answer.' });
      expect(a2.final).toMatchObject({ status: 'complete', content: 'Second answer.' });
      expect(a1.finalAt).toBeLessThan(a2.createdAt);
      expect(a2.final.seq).toBeGreaterThan(a1.final.seq);
      const requests = testApp.fake.requests.slice(before);
      expect(requests).toHaveLength(2);
      expect(conversationOf(requests[0].body)).toEqual([{ role: 'user', content: q1.content }]);
      expect(conversationOf(requests[1].body)).toEqual([
        { role: 'user', content: q1.content },
        { role: 'assistant', content: 'First answer.' },
        { role: 'user', content: q2.content },
      ]);
      const stored = await storedMessages(owner, room.id);
      expect(stored.map((m) => m.id).sort()).toEqual([q1.id, q2.id, a1.final.id, a2.final.id].sort());
      expect(stored.map((m) => m.seq)).toEqual([1, 2, 3, 4]);
    });
  });

  describe('how a stream ends', () => {
    it.each([
      ['at the output limit (finish_reason length)', 'length' as const],
      ['without a finish reason', null],
    ])('should end truncated with the text kept when the provider stops %s', async (_label, finishReason) => {
      const owner = await signUp(testApp.url, 'ai_trn');
      const room = await createAiRoom(owner, { mode: 'always' });
      const { socket, log } = await watchRoom(testApp.sockets, owner, room.id);
      testApp.fake.script({ kind: 'stream', chunks: ['This is cut', ' off mid'], finishReason });

      const question = await ask(socket, room.id, 'Tell me a long story');
      const seen = await log.reply(question.id);

      expect(expectContiguous(seen.deltas, room.id, seen.created.id)).toBe('This is cut off mid');
      expect(seen.final).toEqual({
        ...seen.created,
        // Its final status is the room's next change.
        rev: seen.created.rev + 1,
        content: 'This is cut off mid',
        status: 'truncated',
        updatedAt: expect.stringMatching(ISO_UTC),
      });
      expect(await storedMessage(owner, room.id, seen.final.id)).toEqual(seen.final);
    });
  });

  describe('ai:stop', () => {
    it('should cancel a streaming reply with its partial text and close the provider request', async () => {
      const owner = await signUp(testApp.url, 'ai_stp');
      const member = await signUp(testApp.url, 'ai_stm');
      const room = await createAiRoom(owner, { mode: 'always' });
      await addMembers(owner, room.id, member);
      const mine = await watchRoom(testApp.sockets, owner, room.id);
      const theirs = await watchRoom(testApp.sockets, member, room.id);
      const hold = gate();
      testApp.fake.script({ kind: 'gate', chunks: ['Partial answer', ' that never comes'], release: hold.release });
      const before = testApp.fake.requests.length;

      try {
        const question = await ask(mine.socket, room.id, 'Start, then stop');
        const started = await mine.log.replyStarted(question.id);
        const first = await mine.log.firstDelta(started.id);
        expect(first).toEqual({ roomId: room.id, messageId: started.id, offset: 0, delta: 'Partial answer' });

        const stopped = await ack(theirs.socket, 'ai:stop', { roomId: room.id, messageId: started.id });

        expect(stopped).toEqual({ ok: true });
        for (const { log } of [mine, theirs]) {
          const seen = await log.reply(question.id);
          expect(seen.final).toEqual({
            ...started,
            // Its final status is the room's next change.
            rev: started.rev + 1,
            content: 'Partial answer',
            status: 'cancelled',
            updatedAt: expect.stringMatching(ISO_UTC),
          });
        }
        await within(testApp.fake.requests[before].closedByClient, 'the provider request closed by the server');
        expect(testApp.fake.requests.length - before).toBe(1);
        const final = (await mine.log.reply(question.id)).final;
        expect(await storedMessage(owner, room.id, started.id)).toEqual(final);
        // Whatever the provider would still have sent goes nowhere.
        hold.open();
        await settle(mine.socket);
        expect(await storedMessage(owner, room.id, started.id)).toEqual(final);
        expect(mine.log.of('message:delta').filter((d) => d.messageId === started.id)).toHaveLength(1);
      } finally {
        hold.open();
      }
    });

    it('should answer ok and change nothing for a reply that already ended', async () => {
      const owner = await signUp(testApp.url, 'ai_stp');
      const room = await createAiRoom(owner, { mode: 'always' });
      const { socket, log } = await watchRoom(testApp.sockets, owner, room.id);
      const question = await ask(socket, room.id, 'Quick one');
      const seen = await log.reply(question.id);
      expect(seen.final.status).toBe('complete');
      const updatesBefore = log.of('message:updated').length;

      const stopped = await ack(socket, 'ai:stop', { roomId: room.id, messageId: seen.final.id });

      expect(stopped).toEqual({ ok: true });
      await settle(socket);
      expect(log.of('message:updated')).toHaveLength(updatesBefore);
      expect(await storedMessages(owner, room.id)).toEqual([question, seen.final]);
    });

    it('should answer NOT_FOUND for a user message, an unknown id or another room, and let the reply go on', async () => {
      const owner = await signUp(testApp.url, 'ai_stp');
      const room = await createAiRoom(owner, { mode: 'always' });
      const otherRoom = await createAiRoom(owner, { mode: 'off' });
      const { socket, log } = await watchRoom(testApp.sockets, owner, room.id);
      const hold = gate();
      testApp.fake.script({ kind: 'gate', chunks: ['Still ', 'going'], release: hold.release });

      try {
        const question = await ask(socket, room.id, 'Keep going');
        const started = await log.replyStarted(question.id);
        await log.firstDelta(started.id);

        expectErrorAck(await ack(socket, 'ai:stop', { roomId: room.id, messageId: question.id }), 'NOT_FOUND');
        expectErrorAck(await ack(socket, 'ai:stop', { roomId: room.id, messageId: UNKNOWN_ID }), 'NOT_FOUND');
        expectErrorAck(await ack(socket, 'ai:stop', { roomId: room.id, messageId: randomUUID() }), 'NOT_FOUND');
        expectErrorAck(await ack(socket, 'ai:stop', { roomId: otherRoom.id, messageId: started.id }), 'NOT_FOUND');
        expectErrorAck(await ack(socket, 'ai:stop', { roomId: UNKNOWN_ID, messageId: started.id }), 'NOT_FOUND');

        hold.open();
        const seen = await log.reply(question.id);
        expect(seen.final).toMatchObject({ status: 'complete', content: 'Still going' });
        expect(await storedMessages(owner, room.id)).toEqual([question, seen.final]);
      } finally {
        hold.open();
      }
    });

    it('should answer NOT_FOUND to a non-member, even of a public room, and let the reply go on', async () => {
      const owner = await signUp(testApp.url, 'ai_stp');
      const stranger = await signUp(testApp.url, 'ai_str');
      const room = await createAiRoom(owner, { mode: 'always' }, { visibility: 'public' });
      const { socket, log } = await watchRoom(testApp.sockets, owner, room.id);
      const strangerSocket = await testApp.sockets.open(stranger);
      const hold = gate();
      testApp.fake.script({ kind: 'gate', chunks: ['Not yours ', 'to stop'], release: hold.release });

      try {
        const question = await ask(socket, room.id, 'Go on');
        const started = await log.replyStarted(question.id);
        await log.firstDelta(started.id);

        const refused = await ack(strangerSocket, 'ai:stop', { roomId: room.id, messageId: started.id });

        expectErrorAck(refused, 'NOT_FOUND');
        hold.open();
        const seen = await log.reply(question.id);
        expect(seen.final).toMatchObject({ status: 'complete', content: 'Not yours to stop' });
        expect(await storedMessages(owner, room.id)).toEqual([question, seen.final]);
      } finally {
        hold.open();
      }
    });

    const MISSING = Symbol('missing');
    const hostile = ["'; drop table messages; --", '<script>alert(1)</script>', '%_%', 'ÿ🙂', 'x'.repeat(10_000)];
    const fieldValues = (field: 'roomId' | 'messageId'): [string, unknown][] => [
      ['missing', MISSING],
      ['a number', 42],
      ['null', null],
      ['an array', (ids: Record<string, string>) => [ids[field]]],
      ['an object', (ids: Record<string, string>) => ({ id: ids[field] })],
      ['a UUID with a suffix', (ids: Record<string, string>) => `${ids[field]}x`],
      ...hostile.map((value): [string, unknown] => [`hostile ${JSON.stringify(value.slice(0, 30))}`, value]),
    ];
    type Ids = { roomId: string; messageId: string };
    const withField =
      (field: 'roomId' | 'messageId', value: unknown) =>
      (ids: Ids): unknown[] => {
        const payload: Record<string, unknown> = { ...ids };
        if (value === MISSING) {
          delete payload[field];
        } else {
          payload[field] = typeof value === 'function' ? (value as (ids: Ids) => unknown)(ids) : value;
        }
        return [payload];
      };
    const BAD_PAYLOADS: [string, (ids: Ids) => unknown[], string][] = [
      ['no payload (only a callback)', () => [], 'payload'],
      ['null', () => [null], 'payload'],
      ['a number', () => [42], 'payload'],
      ['a string', (ids) => [ids.messageId], 'payload'],
      ['an array', (ids) => [[ids]], 'payload'],
      ['an empty object', () => [{}], 'messageId'],
      ...fieldValues('roomId').map(([label, value]): [string, (ids: Ids) => unknown[], string] => [
        `roomId ${label}`,
        withField('roomId', value),
        'roomId',
      ]),
      ...fieldValues('messageId').map(([label, value]): [string, (ids: Ids) => unknown[], string] => [
        `messageId ${label}`,
        withField('messageId', value),
        'messageId',
      ]),
    ];

    it.each(BAD_PAYLOADS)(
      'should answer VALIDATION_FAILED to %s and leave the reply streaming',
      async (_label, args, field) => {
        const owner = await signUp(testApp.url, 'ai_val');
        const room = await createAiRoom(owner, { mode: 'always' });
        const { socket, log } = await watchRoom(testApp.sockets, owner, room.id);
        const hold = gate();
        testApp.fake.script({ kind: 'gate', chunks: ['Unharmed ', 'reply'], release: hold.release });

        try {
          const question = await ask(socket, room.id, 'Validate me');
          const started = await log.replyStarted(question.id);
          await log.firstDelta(started.id);

          const refused = await ack(socket, 'ai:stop', ...args({ roomId: room.id, messageId: started.id }));

          expectErrorAck(refused, 'VALIDATION_FAILED', field);
          hold.open();
          const seen = await log.reply(question.id);
          expect(seen.final).toMatchObject({ status: 'complete', content: 'Unharmed reply' });
          expect(await storedMessages(owner, room.id)).toEqual([question, seen.final]);
        } finally {
          hold.open();
        }
      },
    );
  });

  describe('a socket that joins mid-reply', () => {
    it('should get the text so far in the room:join ack, then deltas from that offset and the end', async () => {
      const owner = await signUp(testApp.url, 'ai_lat');
      const member = await signUp(testApp.url, 'ai_lat');
      const room = await createAiRoom(owner, { mode: 'always' });
      await addMembers(owner, room.id, member);
      const mine = await watchRoom(testApp.sockets, owner, room.id);
      const hold = gate();
      const chunks = ['Once upon ', 'a time', ' there was a reply'];
      testApp.fake.script({ kind: 'gate', chunks, release: hold.release });

      try {
        const question = await postMessage(owner, room.id, 'Tell me a story');
        const started = await mine.log.replyStarted(question.id);
        await mine.log.firstDelta(started.id);

        const late = await testApp.sockets.open(member);
        const lateLog = new EventLog(late);
        const joined = await ack(late, 'room:join', { roomId: room.id });

        expect(joined.ok).toBe(true);
        expect(joined.messages).toEqual([question, { ...started, content: chunks[0] }]);
        hold.open();
        const next = await lateLog.firstDelta(started.id);
        expect(next.offset).toBe(joined.messages[1].content.length);
        const { text, final } = await lateLog.rest(room.id, started.id, joined.messages[1].content);
        expect(text).toBe(chunks.join(''));
        expect(final).toMatchObject({ status: 'complete', content: chunks.join('') });
      } finally {
        hold.open();
      }
    });
  });

  describe('a repeated send', () => {
    it('should ask for no second reply when the same clientId is sent again (socket or REST)', async () => {
      const owner = await signUp(testApp.url, 'ai_dup');
      const room = await createAiRoom(owner, { mode: 'always' });
      const { socket, log } = await watchRoom(testApp.sockets, owner, room.id);
      const before = testApp.fake.requests.length;
      const question = await ask(socket, room.id, 'Only once', 'dup-1');
      const first = await log.reply(question.id);

      const again = await ack(socket, 'message:send', { roomId: room.id, content: 'Only once', clientId: 'dup-1' });
      const overRest = await owner.http.post(`/api/rooms/${room.id}/messages`, {
        content: 'Only once',
        clientId: 'dup-1',
      });
      const probe = await ask(socket, room.id, 'A new question', 'dup-2');
      const second = await log.reply(probe.id);

      expect(again).toEqual({ ok: true, message: question, duplicate: true });
      expect({ status: overRest.status, body: overRest.body }).toEqual({
        status: 200,
        body: { message: question, duplicate: true },
      });
      expect(await storedMessages(owner, room.id)).toEqual([question, first.final, probe, second.final]);
      expect(log.of('message:new').filter((p) => p.message.role === 'assistant')).toHaveLength(2);
      expect(testApp.fake.requests.length - before).toBe(2);
    });
  });

  describe('without OPENAI_API_KEY', () => {
    const bare = useAiApp({}, { provider: false });

    it('should show ai.available false on rooms', async () => {
      const owner = await signUp(bare.url, 'ai_bar');
      const room = await createAiRoom(owner, { mode: 'always' });

      const read = await owner.http.get(`/api/rooms/${room.id}`);
      const list = await owner.http.get('/api/rooms');

      expect(room.ai).toEqual({ mode: 'always', systemPrompt: null, model: expect.any(String), available: false });
      expect(read.body.ai.available).toBe(false);
      expect(list.body.rooms.map((r: any) => [r.id, r.ai.available])).toEqual([[room.id, false]]);
    });

    it('should store the question intact and a failed AI_UNAVAILABLE reply that names OPENAI_API_KEY', async () => {
      const owner = await signUp(bare.url, 'ai_bar');
      const room = await createAiRoom(owner, { mode: 'always' });
      const { socket, log } = await watchRoom(bare.sockets, owner, room.id);

      const question = await ask(socket, room.id, '  Is anyone there?  ');
      const seen = await log.reply(question.id);

      expect(question.content).toBe('Is anyone there?');
      expectStartedReply(seen.created, question);
      expect(seen.deltas).toEqual([]);
      expectFailedReply(seen.final, 'AI_UNAVAILABLE');
      expect(seen.final.error.message).toContain('OPENAI_API_KEY');
      expect(seen.final).toEqual({
        ...seen.created,
        // Its final status is the room's next change.
        rev: seen.created.rev + 1,
        status: 'failed',
        error: seen.final.error,
        updatedAt: expect.any(String),
      });
      expect(await storedMessages(owner, room.id)).toEqual([question, seen.final]);
    });

    it('should create no reply at all in an off room', async () => {
      const owner = await signUp(bare.url, 'ai_bar');
      const room = await createAiRoom(owner, { mode: 'off' });
      const { socket, log } = await watchRoom(bare.sockets, owner, room.id);

      const question = await ask(socket, room.id, 'hi @ai');
      await settle(socket);

      expect(log.of('message:new').map((p) => p.message.id)).toEqual([question.id]);
      expect(await storedMessages(owner, room.id)).toEqual([question]);
    });
  });

  describe('the per-user AI reply limit (RATE_AI_PER_MINUTE)', () => {
    const limited = useAiApp({
      RATE_AI_PER_MINUTE: '2',
    });

    it('should fail the third reply within a minute with AI_RATE_LIMITED and not ask the provider', async () => {
      const owner = await signUp(limited.url, 'ai_lim');
      const room = await createAiRoom(owner, { mode: 'always' });
      const { socket, log } = await watchRoom(limited.sockets, owner, room.id);
      const before = limited.fake.requests.length;

      const q1 = await ask(socket, room.id, 'one');
      const a1 = await log.reply(q1.id);
      const q2 = await ask(socket, room.id, 'two');
      const a2 = await log.reply(q2.id);
      const q3 = await ask(socket, room.id, 'three');
      const a3 = await log.reply(q3.id);

      expect([a1.final.status, a2.final.status]).toEqual(['complete', 'complete']);
      expectStartedReply(a3.created, q3);
      expectFailedReply(a3.final, 'AI_RATE_LIMITED');
      expect(limited.fake.requests.length - before).toBe(2);
      expect(await storedMessages(owner, room.id)).toEqual([q1, a1.final, q2, a2.final, q3, a3.final]);
    });

    it('should count only messages that ask for a reply, per user', async () => {
      const owner = await signUp(limited.url, 'ai_lim');
      const member = await signUp(limited.url, 'ai_lim');
      const room = await createAiRoom(owner, { mode: 'mention' });
      await addMembers(owner, room.id, member);
      const { socket, log } = await watchRoom(limited.sockets, owner, room.id);
      const theirs = await limited.sockets.open(member);
      const before = limited.fake.requests.length;

      for (const content of ['no mention', 'still none', 'nor here']) {
        await ask(socket, room.id, content);
      }
      const q1 = await ask(socket, room.id, '@ai one');
      const q2 = await ask(socket, room.id, '@ai two');
      const q3 = await ask(socket, room.id, '@ai three');
      const q4 = await ask(theirs, room.id, '@ai four, from someone else');
      const [a1, a2, a3, a4] = await Promise.all([q1, q2, q3, q4].map((q) => log.reply(q.id)));

      expect([a1, a2, a3, a4].map((a) => a.final.status)).toEqual(['complete', 'complete', 'failed', 'complete']);
      expectFailedReply(a3.final, 'AI_RATE_LIMITED');
      expect(limited.fake.requests.length - before).toBe(3);
      expect(conversationOf(limited.fake.requests[before + 2].body).at(-1)?.content).toContain('@ai four');
    });
  });
});
