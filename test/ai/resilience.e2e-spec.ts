import { BREAKER_THRESHOLD } from '../../src/modules/ai/ai-resilience';
import {
  createAiRoom,
  expectContiguous,
  expectFailedReply,
  expectStartedReply,
  ISO_UTC,
  postMessage,
  storedMessages,
  watchRoom,
  within,
  type EventLog,
  useAiApp,
  type AiApp,
} from '../support/ai-helpers';
import { DEFAULT_REPLY, type Step } from '../support/fake-openai';
import { HttpClient, signUp, type TestUser } from '../support/http-client';

const AI_ENV = { AI_FIRST_TOKEN_TIMEOUT_MS: '500', AI_STALL_TIMEOUT_MS: '500' };

const error = (status: number, headers?: Record<string, string>): Step => ({ kind: 'error', status, headers });
const times = (n: number, step: Step): Step[] => Array.from({ length: n }, () => step);

/** A room in `always` mode and its owner's socket, joined and logging. */
async function aiRoom(app: AiApp): Promise<{ owner: TestUser; room: any; log: EventLog }> {
  const owner = await signUp(app.url, 'ai_res');
  const room = await createAiRoom(owner, { mode: 'always' });
  const { log } = await watchRoom(app.sockets, owner, room.id);
  return { owner, room, log };
}

/** Asks over REST and waits for the reply to end; returns the question as stored and the reply as seen. */
async function askAndWait(owner: TestUser, roomId: string, log: EventLog, content = 'Are you there?') {
  const question = await postMessage(owner, roomId, content);
  const seen = await log.reply(question.id);
  expectStartedReply(seen.created, question);
  return { question, seen };
}

/** The reply to a failed question is stored as seen, and the question itself is exactly as it was sent. */
async function expectStoredAsSeen(owner: TestUser, roomId: string, question: any, final: any): Promise<void> {
  const stored = await storedMessages(owner, roomId);
  expect(stored.find((m) => m.id === question.id)).toEqual(question);
  expect(stored.find((m) => m.id === final.id)).toEqual(final);
}

/** `chat_ai_replies_total` by outcome, from the Prometheus text. */
async function repliesByOutcome(url: string): Promise<Record<string, number>> {
  const res = await new HttpClient(url).get('/metrics');
  expect(res.status).toBe(200);
  const counts: Record<string, number> = {};
  for (const match of String(res.body).matchAll(/^chat_ai_replies_total\{outcome="([^"]+)"\} (\d+(?:\.\d+)?)$/gm)) {
    counts[match[1]] = Number(match[2]);
  }
  return counts;
}

describe('AI reply resilience (PROTOCOL.md §5)', () => {
  const testApp = useAiApp(AI_ENV);

  /**
   * A following question gets a normal reply: the room is not stuck, and the success closes the run of
   * failures the breaker counts, so the next test starts from none (the breaker has its own describe).
   */
  async function expectRecovered(owner: TestUser, roomId: string, log: EventLog): Promise<void> {
    const { seen } = await askAndWait(owner, roomId, log, 'And now?');
    expect(seen.final).toMatchObject({ status: 'complete', content: DEFAULT_REPLY });
  }

  describe('provider errors', () => {
    it('should fail AI_UNAVAILABLE after exactly 3 attempts when the provider answers 500 to each', async () => {
      const { owner, room, log } = await aiRoom(testApp);
      testApp.fake.script(...times(3, error(500)));
      const before = testApp.fake.requests.length;

      const { question, seen } = await askAndWait(owner, room.id, log);

      expect(seen.deltas).toEqual([]);
      expectFailedReply(seen.final, 'AI_UNAVAILABLE');
      expect(testApp.fake.requests.length - before).toBe(3);
      await expectStoredAsSeen(owner, room.id, question, seen.final);
      await expectRecovered(owner, room.id, log);
      expect(testApp.fake.requests.length - before).toBe(4);
    });

    it('should retry after a 500 and complete after exactly 2 requests, the same request twice', async () => {
      const { owner, room, log } = await aiRoom(testApp);
      testApp.fake.script(error(500), { kind: 'stream', chunks: ['Second ', 'time ', 'lucky'] });
      const before = testApp.fake.requests.length;

      const { question, seen } = await askAndWait(owner, room.id, log);

      expect(expectContiguous(seen.deltas, room.id, seen.created.id)).toBe('Second time lucky');
      expect(seen.final).toEqual({
        ...seen.created,
        // Its final status is the room's next change.
        rev: seen.created.rev + 1,
        status: 'complete',
        content: 'Second time lucky',
        updatedAt: expect.stringMatching(ISO_UTC),
      });
      const requests = testApp.fake.requests.slice(before);
      expect(requests).toHaveLength(2);
      expect(requests[1].body).toEqual(requests[0].body);
      await expectStoredAsSeen(owner, room.id, question, seen.final);
    });

    it('should honour retry-after-ms on a 429 and complete after exactly 2 requests', async () => {
      const { owner, room, log } = await aiRoom(testApp);
      testApp.fake.script(error(429, { 'retry-after-ms': '50' }), { kind: 'stream', chunks: ['After ', 'the wait'] });
      const before = testApp.fake.requests.length;

      const { question, seen } = await askAndWait(owner, room.id, log);

      expect(seen.final).toMatchObject({ status: 'complete', content: 'After the wait' });
      expect(testApp.fake.requests.length - before).toBe(2);
      await expectStoredAsSeen(owner, room.id, question, seen.final);
    });

    it('should fail AI_RATE_LIMITED after 3 attempts when the provider answers 429 to each', async () => {
      const { owner, room, log } = await aiRoom(testApp);
      testApp.fake.script(...times(3, error(429)));
      const before = testApp.fake.requests.length;

      const { question, seen } = await askAndWait(owner, room.id, log);

      expectFailedReply(seen.final, 'AI_RATE_LIMITED');
      expect(testApp.fake.requests.length - before).toBe(3);
      await expectStoredAsSeen(owner, room.id, question, seen.final);
    });

    it.each([400, 404, 422])(
      'should fail AI_FAILED after one request, without retrying, when the provider refuses it with %i',
      async (status) => {
        const { owner, room, log } = await aiRoom(testApp);
        testApp.fake.script(error(status));
        const before = testApp.fake.requests.length;

        const { question, seen } = await askAndWait(owner, room.id, log);

        expectFailedReply(seen.final, 'AI_FAILED');
        expect(testApp.fake.requests.length - before).toBe(1);
        await expectStoredAsSeen(owner, room.id, question, seen.final);
      },
    );
  });

  describe('timeouts', () => {
    it('should fail AI_TIMEOUT after 3 attempts when the provider never answers, closing each request', async () => {
      const { owner, room, log } = await aiRoom(testApp);
      testApp.fake.script(...times(3, { kind: 'hang' }));
      const before = testApp.fake.requests.length;

      const { question, seen } = await askAndWait(owner, room.id, log);

      expectFailedReply(seen.final, 'AI_TIMEOUT');
      const requests = testApp.fake.requests.slice(before);
      expect(requests).toHaveLength(3);
      await within(Promise.all(requests.map((r) => r.closedByClient)), 'every hanging request closed by the server');
      await expectStoredAsSeen(owner, room.id, question, seen.final);
      await expectRecovered(owner, room.id, log);
    });

    it('should fail AI_TIMEOUT when the stream stalls after its first tokens, keeping the text, without a retry', async () => {
      const { owner, room, log } = await aiRoom(testApp);
      testApp.fake.script({ kind: 'stall', chunks: ['Partial ', 'answer'] });
      const before = testApp.fake.requests.length;

      const { question, seen } = await askAndWait(owner, room.id, log);

      expect(expectContiguous(seen.deltas, room.id, seen.created.id)).toBe('Partial answer');
      expectFailedReply(seen.final, 'AI_TIMEOUT', 'Partial answer');
      expect(testApp.fake.requests.length - before).toBe(1);
      await within(testApp.fake.requests[before].closedByClient, 'the stalled request closed by the server');
      await expectStoredAsSeen(owner, room.id, question, seen.final);
    });
  });

  describe('GET /metrics', () => {
    it('should count replies in chat_ai_replies_total by outcome', async () => {
      const { owner, room, log } = await aiRoom(testApp);
      const before = await repliesByOutcome(testApp.url);
      testApp.fake.script(
        { kind: 'stream', chunks: ['fine'] },
        { kind: 'stream', chunks: ['cut'], finishReason: 'length' },
        error(400),
      );

      const outcomes = [];
      for (const content of ['one', 'two', 'three']) {
        outcomes.push((await askAndWait(owner, room.id, log, content)).seen.final.status);
      }
      const after = await repliesByOutcome(testApp.url);

      expect(outcomes).toEqual(['complete', 'truncated', 'failed']);
      const grown = (label: string) => (after[label] ?? 0) - (before[label] ?? 0);
      expect({ complete: grown('complete'), truncated: grown('truncated'), AI_FAILED: grown('AI_FAILED') }).toEqual({
        complete: 1,
        truncated: 1,
        AI_FAILED: 1,
      });
    });
  });

  describe('with AI_MAX_ATTEMPTS=1', () => {
    const single = useAiApp({ ...AI_ENV, AI_MAX_ATTEMPTS: '1' });

    it.each([
      [500, 'AI_UNAVAILABLE'],
      [429, 'AI_RATE_LIMITED'],
    ])('should fail after one request when the provider answers %i', async (status, code) => {
      const { owner, room, log } = await aiRoom(single);
      single.fake.script(error(status));
      const before = single.fake.requests.length;

      const { question, seen } = await askAndWait(owner, room.id, log);

      expectFailedReply(seen.final, code);
      expect(single.fake.requests.length - before).toBe(1);
      await expectStoredAsSeen(owner, room.id, question, seen.final);
    });
  });

  describe('the circuit breaker', () => {
    const broken = useAiApp(AI_ENV);

    it('should open after a run of failed attempts and then fail replies fast without asking the provider', async () => {
      const { owner, room, log } = await aiRoom(broken);
      broken.fake.setDefault(error(500));

      const first = await askAndWait(owner, room.id, log, 'first');
      const second = await askAndWait(owner, room.id, log, 'second');

      expectFailedReply(first.seen.final, 'AI_UNAVAILABLE');
      expectFailedReply(second.seen.final, 'AI_UNAVAILABLE');
      // Two replies of 3 attempts: the breaker opens at its threshold and refuses the attempts after it.
      expect(broken.fake.requests).toHaveLength(Math.min(6, BREAKER_THRESHOLD));
      const opened = broken.fake.requests.length;

      const third = await askAndWait(owner, room.id, log, 'third');
      expectFailedReply(third.seen.final, 'AI_UNAVAILABLE');
      expect(broken.fake.requests).toHaveLength(opened);
      // Even with the provider healthy again, the open breaker answers alone until it half-opens.
      broken.fake.setDefault({ kind: 'stream', chunks: [DEFAULT_REPLY] });
      const fourth = await askAndWait(owner, room.id, log, 'fourth');
      expectFailedReply(fourth.seen.final, 'AI_UNAVAILABLE');
      expect(broken.fake.requests).toHaveLength(opened);
      for (const { question, seen } of [first, second, third, fourth]) {
        await expectStoredAsSeen(owner, room.id, question, seen.final);
      }
    });
  });
});
