import type { Socket } from 'socket.io-client';
import {
  createAiRoom,
  EventLog,
  expectContiguous,
  gate,
  ISO_UTC,
  postMessage,
  storedMessages,
  within,
} from './support/ai-helpers';
import { startCluster, type Cluster, type Instance } from './support/cluster';
import { startFakeOpenAi, type FakeOpenAi } from './support/fake-openai';
import { HttpClient, signUp, type TestUser } from './support/http-client';
import { ack, connectSocket } from './support/socket-client';

/** The AI lease of the test cluster (test/support/cluster.ts): a dead instance's reply ends within about this. */
const LEASE_MS = 1500;

/**
 * AI replies when the app runs as several instances (separate processes sharing PostgreSQL and Redis): each reply
 * asked for is a job in the database that one instance at a time generates, per room in question order, and that
 * survives the instance that received the question or generated the reply; `ai:stop` and a late joiner's text so
 * far reach the generating instance from any other.
 */
describe('AI replies across instances', () => {
  let fake: FakeOpenAi;
  let cluster: Cluster;
  let sockets: Socket[] = [];

  // A fresh provider and cluster per test: what one test scripted or left running never reaches the next.
  beforeEach(async () => {
    fake = await startFakeOpenAi();
    cluster = await startCluster({ env: { OPENAI_API_KEY: 'test-key', OPENAI_BASE_URL: fake.url } });
  });

  afterEach(async () => {
    sockets.forEach((socket) => socket.close());
    sockets = [];
    try {
      await cluster?.close();
    } finally {
      await fake.close();
    }
  });

  /** The same user, calling `instance`. */
  const on = (user: TestUser, instance: Instance): TestUser => ({
    ...user,
    http: new HttpClient(instance.url, user.token),
  });

  const other = (instance: Instance): Instance => cluster.instances.find((i) => i !== instance)!;

  /** A socket of `user` on `instance` that has joined the room, with the log of what it receives. */
  async function watch(instance: Instance, user: TestUser, roomId: string): Promise<{ socket: Socket; log: EventLog }> {
    const socket = await connectSocket(instance.url, user.token);
    sockets.push(socket);
    const log = new EventLog(socket);
    expect(await ack(socket, 'room:join', { roomId })).toMatchObject({ ok: true });
    return { socket, log };
  }

  /** A watching socket of `user` on each instance, by instance. */
  async function watchOn(
    instances: Instance[],
    user: TestUser,
    roomId: string,
  ): Promise<Map<Instance, { socket: Socket; log: EventLog }>> {
    const watchers = await Promise.all(instances.map((instance) => watch(instance, user, roomId)));
    return new Map(instances.map((instance, i) => [instance, watchers[i]]));
  }

  /** The first log line of any instance that matches, as soon as it is printed. */
  function logLine(
    match: (line: Record<string, unknown>) => boolean,
    label: string,
  ): Promise<{ instance: Instance; line: Record<string, unknown> }> {
    const find = () => {
      for (const instance of cluster.instances) {
        const line = instance.process.lines.find(match);
        if (line) {
          return { instance, line };
        }
      }
      return undefined;
    };
    const found = find();
    if (found) {
      return Promise.resolve(found);
    }
    const offs: (() => void)[] = [];
    const seen = new Promise<{ instance: Instance; line: Record<string, unknown> }>((resolve) => {
      for (const instance of cluster.instances) {
        const stdout = instance.process.child.stdout;
        // After the process's own reader has parsed the chunk into `lines`.
        const onData = () =>
          setImmediate(() => {
            const now = find();
            if (now) {
              resolve(now);
            }
          });
        stdout.on('data', onData);
        offs.push(() => stdout.off('data', onData));
      }
    });
    return within(seen, `waiting for ${label}`).finally(() => offs.forEach((off) => off()));
  }

  /** Where the reply to a question is being written, and its message id. */
  async function replyStarted(questionId: string): Promise<{ owner: Instance; messageId: string }> {
    const { instance, line } = await logLine(
      (l) => l.msg === 'AI reply started' && l.questionId === questionId,
      `the start of the reply to ${questionId}`,
    );
    return { owner: instance, messageId: String(line.messageId) };
  }

  /** Resolves once the reply to a question has been generated and stored (its `AI API call` line). */
  async function replyEnded(questionId: string): Promise<void> {
    const { messageId } = await replyStarted(questionId);
    await logLine((l) => l.msg === 'AI API call' && l.messageId === messageId, `the end of reply ${messageId}`);
  }

  /** The room as [seq, role, status, content, replyToId, error code] rows, read over REST. */
  async function roomRows(user: TestUser, roomId: string): Promise<unknown[][]> {
    return (await storedMessages(user, roomId)).map((m) => [
      m.seq,
      m.role,
      m.status,
      m.content,
      m.replyToId,
      m.error?.code ?? null,
    ]);
  }

  /** The last user message of each provider request from `from` on: the question each was asked to answer. */
  const askedSince = (from: number): string[] =>
    fake.requests.slice(from).map((r) => (r.body.messages as { content: string }[]).at(-1)!.content);

  it('should answer each message once and in order, whichever instance received it', async () => {
    const [a, b] = cluster.instances;
    const owner = await signUp(a.url, 'cai');
    const room = await createAiRoom(owner, { mode: 'always' });
    const watchers = [await watch(a, owner, room.id), await watch(b, owner, room.id)];
    const hold = gate();
    fake.script(
      { kind: 'gate', chunks: ['Answer ', 'one'], release: hold.release },
      { kind: 'stream', chunks: ['Answer two'] },
      { kind: 'stream', chunks: ['Answer three'] },
      { kind: 'stream', chunks: ['Answer four'] },
    );
    const before = fake.requests.length;

    try {
      const q1 = await postMessage(on(owner, a), room.id, 'one');
      await replyStarted(q1.id);
      // While the first reply is written, the next questions come to both instances.
      const q2 = await postMessage(on(owner, b), room.id, 'two');
      const q3 = await postMessage(on(owner, a), room.id, 'three');
      const q4 = await postMessage(on(owner, b), room.id, 'four');
      hold.open();
      await replyEnded(q4.id);

      expect(await roomRows(on(owner, b), room.id)).toEqual([
        [1, 'user', 'complete', 'one', null, null],
        [2, 'assistant', 'complete', 'Answer one', q1.id, null],
        [3, 'user', 'complete', 'two', null, null],
        [4, 'user', 'complete', 'three', null, null],
        [5, 'user', 'complete', 'four', null, null],
        [6, 'assistant', 'complete', 'Answer two', q2.id, null],
        [7, 'assistant', 'complete', 'Answer three', q3.id, null],
        [8, 'assistant', 'complete', 'Answer four', q4.id, null],
      ]);
      expect(askedSince(before)).toEqual(['one', 'two', 'three', 'four']);
      // Each reply was asked for after the one before it had ended: it sees that answer.
      const answers = ['Answer one', 'Answer two', 'Answer three'];
      fake.requests.slice(before + 1, before + 4).forEach((request, i) => {
        expect(request.body.messages.map((m: any) => m.content)).toContain(answers[i]);
      });
      // Every socket, on either instance, saw each reply start once and end once, complete.
      for (const { log } of watchers) {
        const seen = await Promise.all([q1, q2, q3, q4].map((q) => log.reply(q.id)));
        expect(seen.map((r) => [r.final.replyToId, r.final.status, r.final.seq])).toEqual([
          [q1.id, 'complete', 2],
          [q2.id, 'complete', 6],
          [q3.id, 'complete', 7],
          [q4.id, 'complete', 8],
        ]);
        expect(log.of('message:new').filter((p) => p.message.role === 'assistant')).toHaveLength(4);
        expect(log.of('message:updated')).toHaveLength(4);
      }
    } finally {
      hold.open();
    }
  });

  it("should answer all 3 questions waiting in a room, in order, after the instance writing the room's reply is killed", async () => {
    const [a, b] = cluster.instances;
    const owner = await signUp(a.url, 'cai');
    const room = await createAiRoom(owner, { mode: 'always' });
    fake.script(
      { kind: 'stall', chunks: ['Half'] },
      { kind: 'stream', chunks: ['Answer one'] },
      { kind: 'stream', chunks: ['Answer two'] },
      { kind: 'stream', chunks: ['Answer three'] },
    );
    const before = fake.requests.length;
    const q0 = await postMessage(on(owner, a), room.id, 'zero');
    const { owner: writer } = await replyStarted(q0.id);
    const q1 = await postMessage(on(owner, a), room.id, 'one');
    const q2 = await postMessage(on(owner, b), room.id, 'two');
    const q3 = await postMessage(on(owner, a), room.id, 'three');

    await writer.kill();
    await replyEnded(q3.id);

    const survivor = on(owner, other(writer));
    expect(await roomRows(survivor, room.id)).toEqual([
      [1, 'user', 'complete', 'zero', null, null],
      [2, 'assistant', 'failed', '', q0.id, 'AI_FAILED'],
      [3, 'user', 'complete', 'one', null, null],
      [4, 'user', 'complete', 'two', null, null],
      [5, 'user', 'complete', 'three', null, null],
      [6, 'assistant', 'complete', 'Answer one', q1.id, null],
      [7, 'assistant', 'complete', 'Answer two', q2.id, null],
      [8, 'assistant', 'complete', 'Answer three', q3.id, null],
    ]);
    expect(askedSince(before)).toEqual(['zero', 'one', 'two', 'three']);
  });

  it('should stop a reply written on one instance when ai:stop is sent to the other, keeping its text', async () => {
    const [a, b] = cluster.instances;
    const owner = await signUp(a.url, 'cai');
    const room = await createAiRoom(owner, { mode: 'always' });
    const watchers = await watchOn([a, b], owner, room.id);
    const hold = gate();
    fake.script({ kind: 'gate', chunks: ['Partial answer', ' that never comes'], release: hold.release });
    const before = fake.requests.length;

    try {
      const question = await postMessage(on(owner, a), room.id, 'Start, then stop');
      const { owner: writer, messageId } = await replyStarted(question.id);
      await watchers.get(writer)!.log.firstDelta(messageId);
      const elsewhere = watchers.get(other(writer))!;

      const stopped = await ack(elsewhere.socket, 'ai:stop', { roomId: room.id, messageId });

      expect(stopped).toEqual({ ok: true });
      const seen = await elsewhere.log.reply(question.id);
      expect(seen.final).toEqual({
        ...seen.created,
        // Its final status is the room's next change.
        rev: seen.created.rev + 1,
        content: 'Partial answer',
        status: 'cancelled',
        updatedAt: expect.stringMatching(ISO_UTC),
      });
      await within(fake.requests[before].closedByClient, 'the provider request closed by the writing instance');
      const stored = (await storedMessages(on(owner, other(writer)), room.id)).find((m) => m.id === messageId);
      expect(stored).toEqual(seen.final);
    } finally {
      hold.open();
    }
  });

  it('should give a socket joining on another instance mid-reply the text so far, then the deltas without a gap', async () => {
    const [a, b] = cluster.instances;
    const owner = await signUp(a.url, 'cai');
    const member = await signUp(b.url, 'cai');
    const room = await createAiRoom(owner, { mode: 'always' });
    await owner.http.post(`/api/rooms/${room.id}/members`, { username: member.username });
    const watchers = await watchOn([a, b], owner, room.id);
    const hold = gate();
    const chunks = ['Once upon ', 'a time', ' there was a reply'];
    fake.script({ kind: 'gate', chunks, release: hold.release });

    try {
      const question = await postMessage(on(owner, a), room.id, 'Tell me a story');
      const { owner: writer, messageId } = await replyStarted(question.id);
      const local = watchers.get(writer)!.log;
      const started = await local.replyStarted(question.id);
      await local.firstDelta(messageId);

      const late = await connectSocket(other(writer).url, member.token);
      sockets.push(late);
      const lateLog = new EventLog(late);
      const joined = await ack(late, 'room:join', { roomId: room.id });

      expect(joined.ok).toBe(true);
      expect(joined.messages).toEqual([question, { ...started, content: chunks[0] }]);
      hold.open();
      const endAt = await lateLog.waitFor(
        (event, p) => event === 'message:updated' && p.message.id === messageId,
        'the end of the reply on the late socket',
      );
      const deltas = lateLog.of('message:delta').filter((d) => d.messageId === messageId);
      expect(chunks[0] + expectContiguous(deltas, room.id, messageId, chunks[0].length)).toBe(chunks.join(''));
      expect(lateLog.entries[endAt][1].message).toMatchObject({ status: 'complete', content: chunks.join('') });
    } finally {
      hold.open();
    }
  });

  it('should end the reply of a killed instance as failed within the lease, and go on with the room', async () => {
    const [a] = cluster.instances;
    const owner = await signUp(a.url, 'cai');
    const room = await createAiRoom(owner, { mode: 'always' });
    fake.script({ kind: 'stall', chunks: ['Half a thought'] });
    const question = await postMessage(on(owner, a), room.id, 'think');
    const { owner: writer, messageId } = await replyStarted(question.id);
    const survivor = other(writer);
    const { log } = await watch(survivor, owner, room.id);

    const killedAt = performance.now();
    await writer.kill();
    const endAt = await log.waitFor(
      (event, p) => event === 'message:updated' && p.message.id === messageId,
      'the failed reply on the surviving instance',
    );
    const elapsedMs = performance.now() - killedAt;

    const ended = log.entries[endAt][1].message;
    expect(ended).toMatchObject({
      id: messageId,
      status: 'failed',
      error: { code: 'AI_FAILED', message: 'The server writing this reply stopped' },
    });
    // The lease ran out (or the instance was found gone), and the next look for work took the reply over.
    expect(elapsedMs).toBeLessThan(LEASE_MS + 1500);
    expect((await storedMessages(on(owner, survivor), room.id)).find((m) => m.id === messageId)).toEqual(ended);

    const next = await postMessage(on(owner, survivor), room.id, 'and now?');
    const reply = await log.reply(next.id);
    expect(reply.final).toMatchObject({ status: 'complete', content: 'Hello from the fake.' });
    const statuses = (await storedMessages(on(owner, survivor), room.id)).map((m) => m.status);
    expect(statuses).toEqual(['complete', 'failed', 'complete', 'complete']);
  });

  it('should hand the waiting questions to another instance when the writing one stops gracefully', async () => {
    const [a, b] = cluster.instances;
    const owner = await signUp(a.url, 'cai');
    const room = await createAiRoom(owner, { mode: 'always' });
    const watchers = await watchOn([a, b], owner, room.id);
    const hold = gate();
    fake.script(
      { kind: 'gate', chunks: ['Partial', ' rest'], release: hold.release },
      { kind: 'stream', chunks: ['Answer one'] },
      { kind: 'stream', chunks: ['Answer two'] },
    );

    try {
      const q0 = await postMessage(on(owner, a), room.id, 'zero');
      const { owner: writer, messageId } = await replyStarted(q0.id);
      await watchers.get(writer)!.log.firstDelta(messageId);
      const q1 = await postMessage(on(owner, a), room.id, 'one');
      const q2 = await postMessage(on(owner, b), room.id, 'two');

      expect(await writer.stop()).toEqual({ code: 0, signal: null });
      await replyEnded(q2.id);

      expect(await roomRows(on(owner, other(writer)), room.id)).toEqual([
        [1, 'user', 'complete', 'zero', null, null],
        [2, 'assistant', 'failed', 'Partial', q0.id, 'AI_FAILED'],
        [3, 'user', 'complete', 'one', null, null],
        [4, 'user', 'complete', 'two', null, null],
        [5, 'assistant', 'complete', 'Answer one', q1.id, null],
        [6, 'assistant', 'complete', 'Answer two', q2.id, null],
      ]);
    } finally {
      hold.open();
    }
  });
});
