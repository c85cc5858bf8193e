import { countTokens } from 'gpt-tokenizer/cjs/encoding/o200k_base';
import { randomUUID } from 'node:crypto';
import {
  addMembers,
  conversationOf,
  createAiRoom,
  expectFailedReply,
  gate,
  postMessage,
  uniqueTag,
  watchRoom,
  type EventLog,
  useAiApp,
} from '../support/ai-helpers';
import { DEFAULT_REPLY, type RecordedRequest } from '../support/fake-openai';
import { signUp, type TestUser } from '../support/http-client';
import { ack } from '../support/socket-client';

const DEFAULT_MODEL = 'gpt-ctx-default';
const MAX_OUTPUT_TOKENS = 321;

/** What a message costs in the context budget: its o200k_base tokens and 4 for the chat format. */
const cost = (message: { content: string }): number => countTokens(message.content) + 4;

describe('AI reply context (PROTOCOL.md §5)', () => {
  const testApp = useAiApp({
    OPENAI_MODEL: DEFAULT_MODEL,
    OPENAI_MODELS: 'gpt-room-override,gpt-patched',
    AI_MAX_OUTPUT_TOKENS: String(MAX_OUTPUT_TOKENS),
    AI_FIRST_TOKEN_TIMEOUT_MS: '500',
    AI_STALL_TIMEOUT_MS: '500',
  });

  /** Asks over REST, waits for the reply to end, and returns it with the one request the testApp.fake received for it. */
  async function askFor(
    user: TestUser,
    roomId: string,
    log: EventLog,
    content: string,
  ): Promise<{ question: any; reply: any; request: RecordedRequest }> {
    const before = testApp.fake.requests.length;
    const question = await postMessage(user, roomId, content);
    const { final } = await log.reply(question.id);
    expect(testApp.fake.requests.length - before).toBe(1);
    return { question, reply: final, request: testApp.fake.requests[before] };
  }

  describe('model and limits', () => {
    it('should stream with the server default model (OPENAI_MODEL) and max_tokens = AI_MAX_OUTPUT_TOKENS', async () => {
      const owner = await signUp(testApp.url, 'ai_ctx');
      const room = await createAiRoom(owner, { mode: 'always' });
      const { log } = await watchRoom(testApp.sockets, owner, room.id);

      const { request } = await askFor(owner, room.id, log, 'Which model are you?');

      expect(room.ai.model).toBe(DEFAULT_MODEL);
      expect(request.body).toMatchObject({ model: DEFAULT_MODEL, stream: true, max_tokens: MAX_OUTPUT_TOKENS });
    });

    it("should use the room's model override, and the new one after a PATCH", async () => {
      const owner = await signUp(testApp.url, 'ai_ctx');
      const room = await createAiRoom(owner, { mode: 'always', model: 'gpt-room-override' });
      const { log } = await watchRoom(testApp.sockets, owner, room.id);

      const first = await askFor(owner, room.id, log, 'Which model are you?');
      const patched = await owner.http.patch(`/api/rooms/${room.id}`, { ai: { model: 'gpt-patched' } });
      const second = await askFor(owner, room.id, log, 'And now?');

      expect(room.ai.model).toBe('gpt-room-override');
      expect(first.request.body).toMatchObject({ model: 'gpt-room-override', stream: true });
      expect(patched.body.ai.model).toBe('gpt-patched');
      expect(second.request.body).toMatchObject({ model: 'gpt-patched', max_tokens: MAX_OUTPUT_TOKENS });
    });
  });

  describe('the system prompt', () => {
    it("should open with the room's system prompt, exactly as set", async () => {
      const owner = await signUp(testApp.url, 'ai_ctx');
      const prompt = "Tu es un pirate 🏴‍☠️. <script>alert(1)</script> '; drop table messages; -- 100% _x_";
      const room = await createAiRoom(owner, { mode: 'always', systemPrompt: prompt });
      const { log } = await watchRoom(testApp.sockets, owner, room.id);

      const { request } = await askFor(owner, room.id, log, 'Ahoy?');

      expect(request.body.messages).toEqual([
        { role: 'system', content: prompt },
        { role: 'user', content: 'Ahoy?' },
      ]);
    });

    it('should open with a default system prompt that names the room when it has none', async () => {
      const owner = await signUp(testApp.url, 'ai_ctx');
      const name = `Café ${uniqueTag()} <b>club</b>`;
      const room = await createAiRoom(owner, { mode: 'always' }, { name });
      const { log } = await watchRoom(testApp.sockets, owner, room.id);

      const { request } = await askFor(owner, room.id, log, 'Hello?');

      expect(room.ai.systemPrompt).toBeNull();
      const [system, ...rest] = request.body.messages;
      expect(system.role).toBe('system');
      expect(system.content).toContain(name);
      expect(rest).toEqual([{ role: 'user', content: 'Hello?' }]);
    });
  });

  describe('who said what', () => {
    it("should prefix user messages with the sender's display name in a room with two members", async () => {
      const owner = await signUp(testApp.url, 'ai_ctx', 'Ada Lovelace');
      const member = await signUp(testApp.url, 'ai_ctx', 'Bob 🙂 <i>');
      const room = await createAiRoom(owner, { mode: 'always' });
      await addMembers(owner, room.id, member);
      const { log } = await watchRoom(testApp.sockets, owner, room.id);

      const first = await askFor(owner, room.id, log, 'hi there');
      const second = await askFor(member, room.id, log, 'hello: both of you');

      expect(conversationOf(first.request.body)).toEqual([{ role: 'user', content: 'Ada Lovelace: hi there' }]);
      expect(conversationOf(second.request.body)).toEqual([
        { role: 'user', content: 'Ada Lovelace: hi there' },
        { role: 'assistant', content: first.reply.content },
        { role: 'user', content: 'Bob 🙂 <i>: hello: both of you' },
      ]);
    });

    it('should send user messages as they are in a room with one member', async () => {
      const owner = await signUp(testApp.url, 'ai_ctx', 'Solo Person');
      const room = await createAiRoom(owner, { mode: 'always' });
      const { log } = await watchRoom(testApp.sockets, owner, room.id);

      const { request } = await askFor(owner, room.id, log, 'just me');

      expect(conversationOf(request.body)).toEqual([{ role: 'user', content: 'just me' }]);
    });
  });

  describe('what the conversation holds', () => {
    it("should never include another room's messages", async () => {
      const owner = await signUp(testApp.url, 'ai_ctx');
      const other = await signUp(testApp.url, 'ai_ctx');
      const secret = uniqueTag('SECRET');
      const quiet = await createAiRoom(owner, { mode: 'off' });
      await postMessage(owner, quiet.id, `${secret} in a quiet room`);
      const busy = await createAiRoom(owner, { mode: 'always' });
      const busyWatch = await watchRoom(testApp.sockets, owner, busy.id);
      await askFor(owner, busy.id, busyWatch.log, `${secret} in a busy room`);
      const theirs = await createAiRoom(other, { mode: 'off' });
      await postMessage(other, theirs.id, `${secret} in someone else's room`);
      const room = await createAiRoom(owner, { mode: 'always' });
      const { log } = await watchRoom(testApp.sockets, owner, room.id);

      const { request } = await askFor(owner, room.id, log, 'What do you know?');

      expect(conversationOf(request.body)).toEqual([{ role: 'user', content: 'What do you know?' }]);
      expect(JSON.stringify(request.body)).not.toContain(secret);
    });

    it('should include complete and truncated replies, and leave out failed and cancelled ones', async () => {
      const owner = await signUp(testApp.url, 'ai_ctx');
      const room = await createAiRoom(owner, { mode: 'always' });
      const { socket, log } = await watchRoom(testApp.sockets, owner, room.id);
      const tag = uniqueTag();
      const hold = gate();

      try {
        testApp.fake.script({ kind: 'stall', chunks: [`FAILED-${tag}`] });
        const failed = await askFor(owner, room.id, log, 'one');
        expectFailedReply(failed.reply, 'AI_TIMEOUT', `FAILED-${tag}`);

        testApp.fake.script({ kind: 'stream', chunks: [`TRUNCATED-${tag}`], finishReason: 'length' });
        const truncated = await askFor(owner, room.id, log, 'two');
        expect(truncated.reply.status).toBe('truncated');

        testApp.fake.script({ kind: 'gate', chunks: [`CANCELLED-${tag}`, ' never'], release: hold.release });
        const before = testApp.fake.requests.length;
        const q3 = await postMessage(owner, room.id, 'three');
        const started = await log.replyStarted(q3.id);
        await log.firstDelta(started.id);
        expect(await ack(socket, 'ai:stop', { roomId: room.id, messageId: started.id })).toEqual({ ok: true });
        expect((await log.reply(q3.id)).final).toMatchObject({ status: 'cancelled', content: `CANCELLED-${tag}` });
        expect(testApp.fake.requests.length - before).toBe(1);

        const complete = await askFor(owner, room.id, log, 'four');
        expect(complete.reply).toMatchObject({ status: 'complete', content: DEFAULT_REPLY });

        const { request } = await askFor(owner, room.id, log, 'five');

        expect(conversationOf(request.body)).toEqual([
          { role: 'user', content: 'one' },
          { role: 'user', content: 'two' },
          { role: 'assistant', content: `TRUNCATED-${tag}` },
          { role: 'user', content: 'three' },
          { role: 'user', content: 'four' },
          { role: 'assistant', content: DEFAULT_REPLY },
          { role: 'user', content: 'five' },
        ]);
        expect(JSON.stringify(request.body)).not.toContain(`FAILED-${tag}`);
        expect(JSON.stringify(request.body)).not.toContain(`CANCELLED-${tag}`);
      } finally {
        hold.open();
      }
    });

    it('should place each reply right after its question and hold nothing asked after the question', async () => {
      const owner = await signUp(testApp.url, 'ai_ctx');
      const room = await createAiRoom(owner, { mode: 'always' });
      const { log } = await watchRoom(testApp.sockets, owner, room.id);
      const hold = gate();
      testApp.fake.script(
        { kind: 'gate', chunks: ['A0'], release: hold.release },
        { kind: 'stream', chunks: ['A1'] },
        { kind: 'stream', chunks: ['A2'] },
      );
      const before = testApp.fake.requests.length;

      try {
        const q0 = await postMessage(owner, room.id, 'Q0');
        await log.firstDelta((await log.replyStarted(q0.id)).id);
        // Asked while the reply to Q0 streams: A1 is stored after Q2, yet belongs right after Q1.
        const q1 = await postMessage(owner, room.id, 'Q1');
        const q2 = await postMessage(owner, room.id, 'Q2');
        hold.open();
        const a2 = await log.reply(q2.id);
        const a1 = await log.reply(q1.id);

        expect(a1.final.seq).toBeGreaterThan(q2.seq);
        expect(a2.final.status).toBe('complete');
        const requests = testApp.fake.requests.slice(before);
        expect(requests).toHaveLength(3);
        expect(conversationOf(requests[0].body)).toEqual([{ role: 'user', content: 'Q0' }]);
        expect(conversationOf(requests[1].body)).toEqual([
          { role: 'user', content: 'Q0' },
          { role: 'assistant', content: 'A0' },
          { role: 'user', content: 'Q1' },
        ]);
        expect(conversationOf(requests[2].body)).toEqual([
          { role: 'user', content: 'Q0' },
          { role: 'assistant', content: 'A0' },
          { role: 'user', content: 'Q1' },
          { role: 'assistant', content: 'A1' },
          { role: 'user', content: 'Q2' },
        ]);
      } finally {
        hold.open();
      }
    });
  });

  describe('a long history with AI_CONTEXT_TOKENS=300', () => {
    const BUDGET = 300;
    const small = useAiApp({
      AI_CONTEXT_TOKENS: String(BUDGET),
    });

    it('should send the system prompt and the newest messages that fit, ending with the question', async () => {
      const owner = await signUp(small.url, 'ai_long');
      const room = await createAiRoom(owner, { mode: 'off' });
      const notes: string[] = [];
      for (let i = 1; i <= 40; i += 1) {
        const note = `Note ${i}: the quick brown fox jumps over the lazy dog beside the quiet river bank ${randomUUID().slice(0, 4)}`;
        notes.push(note);
        await postMessage(owner, room.id, note);
      }
      // About 20 tokens each: 40 of them are far over the budget.
      expect(notes.every((n) => countTokens(n) >= 15 && countTokens(n) <= 30)).toBe(true);
      const patched = await owner.http.patch(`/api/rooms/${room.id}`, { ai: { mode: 'always' } });
      expect(patched.body.ai.mode).toBe('always');
      const { log } = await watchRoom(small.sockets, owner, room.id);
      const before = small.fake.requests.length;

      const question = await postMessage(owner, room.id, 'What was the last note about?');
      const { final } = await log.reply(question.id);

      expect(final.status).toBe('complete');
      expect(small.fake.requests.length - before).toBe(1);
      const messages: { role: string; content: string }[] = small.fake.requests[before].body.messages;
      expect(messages[0]).toEqual({ role: 'system', content: expect.stringContaining(room.name) });
      expect(messages.at(-1)).toEqual({ role: 'user', content: question.content });
      const kept = messages.slice(1, -1).map((m) => m.content);
      expect(kept.length).toBeGreaterThan(0);
      expect(kept.length).toBeLessThan(notes.length);
      // The newest notes, in order, with the oldest dropped.
      expect(kept).toEqual(notes.slice(notes.length - kept.length));
      const total = messages.reduce((sum, m) => sum + cost(m), 0);
      expect(total).toBeLessThanOrEqual(BUDGET);
      // Nothing more fitted: the next older note would have gone over the budget.
      expect(total + cost({ content: notes[notes.length - kept.length - 1] })).toBeGreaterThan(BUDGET);
    });
  });
});
