import {
  addMembers,
  conversationOf,
  createAiRoom,
  expectErrorAck,
  gate,
  postMessage,
  storedMessages,
  UNKNOWN_ID,
  uniqueTag,
  watchRoom,
  type EventLog,
  useAiApp,
} from '../support/ai-helpers';
import { expectProblem, signUp } from '../support/http-client';
import { ack } from '../support/socket-client';

/** The `message:new` of the answer with `version` to a question, and its final `message:updated`. */
async function answer(log: EventLog, questionId: string, version: number): Promise<{ created: any; final: any }> {
  const at = await log.waitFor(
    (event, p) =>
      event === 'message:new' &&
      p?.message?.role === 'assistant' &&
      p.message.replyToId === questionId &&
      p.message.version === version,
    `version ${version} of the answer to ${questionId}`,
  );
  const created = log.entries[at][1].message;
  const end = await log.waitFor(
    (event, p) => event === 'message:updated' && p?.message?.id === created.id && p.message.status !== 'streaming',
    `the end of answer ${created.id}`,
    at,
  );
  return { created, final: log.entries[end][1].message };
}

describe('answering again: ai:regenerate and an edit’s rerun (PROTOCOL.md §3)', () => {
  const testApp = useAiApp({ RATE_AI_PER_MINUTE: '1000' });

  it('should answer again as the question’s next version, live to every member, the earlier answer unchanged', async () => {
    const owner = await signUp(testApp.url, 'regen');
    const member = await signUp(testApp.url, 'regen');
    const room = await createAiRoom(owner, { mode: 'always' });
    await addMembers(owner, room.id, member);
    const ownerView = await watchRoom(testApp.sockets, owner, room.id);
    const memberView = await watchRoom(testApp.sockets, member, room.id);
    testApp.fake.script({ kind: 'stream', chunks: ['First ', 'answer'] });
    const question = await postMessage(owner, room.id, 'What is a rev?');
    const first = await answer(ownerView.log, question.id, 1);
    expect(first.final).toMatchObject({ content: 'First answer', status: 'complete', version: 1 });

    testApp.fake.script({ kind: 'stream', chunks: ['Second ', 'answer'] });
    const asked = await ack(memberView.socket, 'ai:regenerate', { roomId: room.id, messageId: first.final.id });
    expect(asked).toEqual({ ok: true, questionId: question.id, queued: true });
    for (const view of [ownerView, memberView]) {
      const second = await answer(view.log, question.id, 2);
      expect(second.created).toMatchObject({ seq: first.final.seq + 1, status: 'streaming', content: '' });
      expect(second.final).toMatchObject({ content: 'Second answer', status: 'complete', replyToId: question.id });
    }

    // Over HTTP, on the newest answer (or the question itself), the same.
    testApp.fake.script({ kind: 'stream', chunks: ['Third'] });
    const second = (await answer(ownerView.log, question.id, 2)).final;
    const res = await owner.http.post(`/api/rooms/${room.id}/messages/${question.id}/regenerate`, {});
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ questionId: question.id, queued: true });
    const third = await answer(memberView.log, question.id, 3);
    expect(third.final).toMatchObject({ content: 'Third', seq: second.seq + 1 });

    const stored = await storedMessages(member, room.id);
    expect(stored.map((m) => [m.role, m.content, m.version])).toEqual([
      ['user', 'What is a rev?', undefined],
      ['assistant', 'First answer', 1],
      ['assistant', 'Second answer', 2],
      ['assistant', 'Third', 3],
    ]);
    expect(stored[1]).toEqual(first.final);
    // A client away meanwhile gets the new versions from the change feed, once each.
    const changes = await member.http.get(`/api/rooms/${room.id}/changes?afterRev=${first.final.rev}`);
    expect(changes.body.messages.map((m: any) => m.version)).toEqual([2, 3]);
  });

  it('should ask with the context as it was at the question: the newest answer to earlier ones, none to itself', async () => {
    const owner = await signUp(testApp.url, 'regen');
    const room = await createAiRoom(owner, { mode: 'always' });
    const { log, socket } = await watchRoom(testApp.sockets, owner, room.id);
    testApp.fake.script({ kind: 'stream', chunks: ['A1'] }, { kind: 'stream', chunks: ['A2'] });
    const q1 = await postMessage(owner, room.id, 'Q1');
    await answer(log, q1.id, 1);
    const q2 = await postMessage(owner, room.id, 'Q2');
    const a2 = (await answer(log, q2.id, 1)).final;

    const before = testApp.fake.requests.length;
    testApp.fake.script({ kind: 'stream', chunks: ['A1 again'] });
    expect(await ack(socket, 'ai:regenerate', { roomId: room.id, messageId: q1.id })).toMatchObject({ ok: true });
    await answer(log, q1.id, 2);
    expect(conversationOf(testApp.fake.requests[before].body)).toEqual([{ role: 'user', content: 'Q1' }]);

    testApp.fake.script({ kind: 'stream', chunks: ['A2 again'] });
    expect(await ack(socket, 'ai:regenerate', { roomId: room.id, messageId: a2.id })).toMatchObject({ ok: true });
    await answer(log, q2.id, 2);
    expect(conversationOf(testApp.fake.requests[before + 1].body)).toEqual([
      { role: 'user', content: 'Q1' },
      { role: 'assistant', content: 'A1 again' },
      { role: 'user', content: 'Q2' },
    ]);
  });

  it('should answer the edited text as the next version when its author edits with rerun', async () => {
    const owner = await signUp(testApp.url, 'regen');
    const room = await createAiRoom(owner, { mode: 'always' });
    const { log, socket } = await watchRoom(testApp.sockets, owner, room.id);
    testApp.fake.script({ kind: 'stream', chunks: ['About cats'] });
    const question = await postMessage(owner, room.id, 'Tell me about cats');
    await answer(log, question.id, 1);

    const before = testApp.fake.requests.length;
    testApp.fake.script({ kind: 'stream', chunks: ['About dogs'] });
    const edited = await ack(socket, 'message:edit', {
      roomId: room.id,
      messageId: question.id,
      content: 'Tell me about dogs',
      rerun: true,
    });
    expect(edited).toMatchObject({
      ok: true,
      rerun: true,
      message: { id: question.id, content: 'Tell me about dogs' },
    });
    expect((await answer(log, question.id, 2)).final).toMatchObject({ content: 'About dogs', status: 'complete' });
    expect(conversationOf(testApp.fake.requests[before].body)).toEqual([
      { role: 'user', content: 'Tell me about dogs' },
    ]);

    // Without rerun an edit asks nothing; over HTTP rerun works the same.
    const plain = await owner.http.patch(`/api/rooms/${room.id}/messages/${question.id}`, { content: 'Dogs, then' });
    expect(plain.status).toBe(200);
    expect(plain.body).not.toHaveProperty('rerun');
    testApp.fake.script({ kind: 'stream', chunks: ['Dogs it is'] });
    const rerun = await owner.http.patch(`/api/rooms/${room.id}/messages/${question.id}`, {
      content: 'Dogs, please',
      rerun: true,
    });
    expect(rerun.body).toMatchObject({ rerun: true, message: { content: 'Dogs, please' } });
    expect((await answer(log, question.id, 3)).final.content).toBe('Dogs it is');
    expect(testApp.fake.requests.length - before).toBe(2);
  });

  it('should queue one new answer however often it is asked while one waits', async () => {
    const owner = await signUp(testApp.url, 'regen');
    const room = await createAiRoom(owner, { mode: 'always' });
    const { log, socket } = await watchRoom(testApp.sockets, owner, room.id);
    const held = gate();
    testApp.fake.script({ kind: 'gate', chunks: ['Slow ', 'first'], release: held.release });
    const question = await postMessage(owner, room.id, 'Take your time');
    const first = await log.replyStarted(question.id);
    await log.firstDelta(first.id);
    const before = testApp.fake.requests.length;

    testApp.fake.script({ kind: 'stream', chunks: ['Quick second'] });
    const asks = await Promise.all(
      [1, 2, 3].map(() => ack(socket, 'ai:regenerate', { roomId: room.id, messageId: first.id })),
    );
    expect(asks.map((a) => a.queued).sort()).toEqual([false, false, true]);
    held.open();
    expect((await answer(log, question.id, 2)).final.content).toBe('Quick second');
    const answers = (await storedMessages(owner, room.id)).filter((m) => m.role === 'assistant');
    expect(answers.map((m) => [m.version, m.content])).toEqual([
      [1, 'Slow first'],
      [2, 'Quick second'],
    ]);
    expect(testApp.fake.requests.length - before).toBe(1);
  });

  describe('refused, with nothing queued', () => {
    it('should refuse bad input, strangers, unknown and deleted messages, and rooms whose assistant is off', async () => {
      const owner = await signUp(testApp.url, 'regen');
      const stranger = await signUp(testApp.url, 'regen');
      const room = await createAiRoom(owner, { mode: 'always' });
      const offRoom = await createAiRoom(owner, { mode: 'off' });
      const { log, socket } = await watchRoom(testApp.sockets, owner, room.id);
      const question = await postMessage(owner, room.id, 'Anyone?');
      const reply = (await answer(log, question.id, 1)).final;
      const quiet = await postMessage(owner, offRoom.id, 'Nobody answers here');
      const strangerSocket = await testApp.sockets.open(stranger);
      const before = testApp.fake.requests.length;
      const regenerate = (s: typeof socket, payload: unknown) => ack(s, 'ai:regenerate', payload);

      expectErrorAck(await regenerate(socket, { roomId: room.id }), 'VALIDATION_FAILED', 'messageId');
      expectErrorAck(await regenerate(socket, { roomId: 42, messageId: reply.id }), 'VALIDATION_FAILED', 'roomId');
      expectErrorAck(await regenerate(socket, { roomId: room.id, messageId: 'x'.repeat(5_000) }), 'VALIDATION_FAILED');
      expectErrorAck(await regenerate(socket, 'not an object'), 'VALIDATION_FAILED');
      expectErrorAck(await regenerate(socket, { roomId: room.id, messageId: UNKNOWN_ID }), 'NOT_FOUND');
      expectErrorAck(await regenerate(socket, { roomId: offRoom.id, messageId: reply.id }), 'NOT_FOUND');
      expectErrorAck(await regenerate(strangerSocket, { roomId: room.id, messageId: reply.id }), 'NOT_FOUND');
      const off = await regenerate(socket, { roomId: offRoom.id, messageId: quiet.id });
      expectErrorAck(off, 'CONFLICT');
      expect(off.error.message).toBe('The assistant is off in this room');
      const badRerun = await ack(socket, 'message:edit', {
        roomId: room.id,
        messageId: question.id,
        content: 'changed?',
        rerun: 'yes',
      });
      expectErrorAck(badRerun, 'VALIDATION_FAILED', 'rerun');
      const badHttp = await owner.http.post(`/api/rooms/${room.id}/messages/not-a-uuid/regenerate`, {});
      expectProblem(badHttp, 404, 'NOT_FOUND'); // a path id that is no UUID names nothing
      const strangerHttp = await stranger.http.post(`/api/rooms/${room.id}/messages/${reply.id}/regenerate`, {});
      expectProblem(strangerHttp, 404, 'NOT_FOUND');

      expect((await owner.http.delete(`/api/rooms/${room.id}/messages/${question.id}`)).status).toBe(200);
      const deleted = await regenerate(socket, { roomId: room.id, messageId: reply.id });
      expectErrorAck(deleted, 'NOT_FOUND');
      expect(deleted.error.message).toBe('The message this reply answers was deleted');

      expect(testApp.fake.requests.length).toBe(before);
      const stored = await storedMessages(owner, room.id);
      expect(stored.map((m) => [m.role, m.content])).toEqual([
        ['user', ''],
        ['assistant', reply.content],
      ]);
    });
  });
});

describe('answering again over the AI reply limit', () => {
  const testApp = useAiApp({ RATE_AI_PER_MINUTE: '2' });

  it('should count each request against RATE_AI_PER_MINUTE and refuse the one over it with RATE_LIMITED', async () => {
    const owner = await signUp(testApp.url, 'regen');
    const room = await createAiRoom(owner, { mode: 'always' });
    const { log, socket } = await watchRoom(testApp.sockets, owner, room.id);
    const tag = uniqueTag();
    const question = await postMessage(owner, room.id, `count me ${tag}`);
    const first = (await answer(log, question.id, 1)).final;
    expect(await ack(socket, 'ai:regenerate', { roomId: room.id, messageId: first.id })).toMatchObject({ ok: true });
    await answer(log, question.id, 2);
    const before = testApp.fake.requests.length;

    const over = await ack(socket, 'ai:regenerate', { roomId: room.id, messageId: first.id });
    expectErrorAck(over, 'RATE_LIMITED');
    expect(over.error.retryAfterMs).toBeGreaterThan(0);
    const overEdit = await ack(socket, 'message:edit', {
      roomId: room.id,
      messageId: question.id,
      content: 'edited?',
      rerun: true,
    });
    expectErrorAck(overEdit, 'RATE_LIMITED');
    expect(testApp.fake.requests.length).toBe(before);
    const stored = await storedMessages(owner, room.id);
    expect(stored.map((m) => m.content)).toEqual([`count me ${tag}`, first.content, expect.any(String)]);
  });
});
