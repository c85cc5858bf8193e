/**
 * Moderation (issue 18 item 3, PROTOCOL.md §3 "Moderation"), with MODERATION=openai against the fake provider's
 * moderation endpoint (FLAGME is flagged as harassment): post-moderation delivers at once and withdraws flagged
 * content from everyone else, live and on resume; pre-moderation never delivers it; assistant replies are checked
 * when they end; an outage fails open or closed as configured, and nothing is lost.
 */
import type { Socket } from 'socket.io-client';
import { addMembers, conversationOf, createAiRoom, postMessage, useAiApp, watchRoom } from './support/ai-helpers';
import { signUp, type TestUser } from './support/http-client';
import { ack, collect, joinRoom, nextEvent } from './support/socket-client';

const page = async (user: TestUser, roomId: string) => {
  const res = await user.http.get(`/api/rooms/${roomId}/messages`);
  expect(res.status).toBe(200);
  return res.body.messages as any[];
};
const byId = (messages: any[], id: string) => messages.find((m) => m.id === id);
const updated = (socket: Socket, id: string, match: (message: any) => boolean = () => true) =>
  nextEvent(socket, 'message:updated', (p) => p.message.id === id && match(p.message)).then((p) => p.message);

/** A room of the owner's with an author and a member, the author's and the member's sockets joined. */
async function roomOfThree(t: ReturnType<typeof useAiApp>, prefix: string, mode: 'off' | 'always' = 'off') {
  const [owner, author, member] = await Promise.all(['o', 'a', 'm'].map((who) => signUp(t.url, `${prefix}_${who}`)));
  const room = await createAiRoom(owner, { mode });
  await addMembers(owner, room.id, author, member);
  const authorSocket = await t.sockets.open(author);
  const memberSocket = await t.sockets.open(member);
  await joinRoom(authorSocket, room.id);
  await joinRoom(memberSocket, room.id);
  return { owner, author, member, room, authorSocket, memberSocket };
}

describe('moderation after delivery (MODERATION_MODE=post)', () => {
  const t = useAiApp({ MODERATION: 'openai' });

  it('should deliver at once, then withdraw a flagged message from the others live and on resume, and tell the author why', async () => {
    const { owner, author, member, room, authorSocket, memberSocket } = await roomOfThree(t, 'mp');
    const news = collect(memberSocket, 'message:new');
    const told = nextEvent(authorSocket, 'message:withheld');

    const withdrawal = nextEvent(memberSocket, 'message:updated', (p) => p.message.withheld === 'flagged');
    const clean = await postMessage(author, room.id, 'a kind word');
    const flagged = await postMessage(author, room.id, 'FLAGME you fool');
    // Stored and delivered as it was: the check comes after.
    expect(flagged).toMatchObject({ content: 'FLAGME you fool' });
    expect(flagged).not.toHaveProperty('withheld');
    const withdrawn = (await withdrawal).message;
    expect(withdrawn.id).toBe(flagged.id);
    expect(news.map((p) => p.message.content)).toEqual(['a kind word', 'FLAGME you fool']);
    expect(withdrawn).toMatchObject({ seq: flagged.seq, rev: flagged.rev + 1, content: '', withheld: 'flagged' });
    expect(await told).toEqual({
      roomId: room.id,
      messageId: flagged.id,
      seq: flagged.seq,
      reason: 'flagged',
      categories: ['harassment'],
    });
    expect(t.fake.moderationRequests.map((r) => r.body.input)).toEqual(
      expect.arrayContaining(['a kind word', 'FLAGME you fool']),
    );

    // On resume and in history: a placeholder for the member, the text for its author and the room's owner.
    const resumed = await member.http.get(`/api/rooms/${room.id}/changes?afterRev=${flagged.rev}`);
    expect(resumed.body.messages).toEqual([
      expect.objectContaining({ id: flagged.id, content: '', withheld: 'flagged' }),
    ]);
    expect(byId(await page(member, room.id), clean.id)).not.toHaveProperty('withheld');
    expect(byId(await page(member, room.id), flagged.id)).toMatchObject({ content: '', withheld: 'flagged' });
    for (const reader of [author, owner]) {
      expect(byId(await page(reader, room.id), flagged.id)).toMatchObject({
        content: 'FLAGME you fool',
        withheld: 'flagged',
      });
    }
    // The room list shows no preview of it, and nobody can react to it.
    expect((await member.http.get(`/api/rooms/${room.id}`)).body.lastMessage).toMatchObject({
      preview: '',
      withheld: 'flagged',
    });
    const reacted = await member.http.request(
      'PUT',
      `/api/rooms/${room.id}/messages/${flagged.id}/reactions/${encodeURIComponent('👍')}`,
      {},
    );
    expect([reacted.status, reacted.body.code]).toEqual([409, 'CONFLICT']);
  });

  it('should check an assistant reply when it ends and withhold it when flagged', async () => {
    const { owner, member, room, memberSocket } = await roomOfThree(t, 'mr', 'always');
    const watcher = await watchRoom(t.sockets, owner, room.id);
    t.fake.script({ kind: 'stream', chunks: ['FLAG', 'ME says the bot'] });

    const withdrawal = nextEvent(memberSocket, 'message:updated', (p) => p.message.withheld === 'flagged');
    const question = await postMessage(member, room.id, 'say something');
    const reply = await watcher.log.reply(question.id);
    // It streamed to everyone before any check; then it is withheld by a change.
    expect(reply.final).toMatchObject({ status: 'complete', content: 'FLAGME says the bot' });
    const withdrawn = (await withdrawal).message;
    expect(withdrawn).toMatchObject({ id: reply.final.id, content: '', rev: reply.final.rev + 1, role: 'assistant' });
    expect(byId(await page(member, room.id), reply.final.id)).toMatchObject({ content: '', withheld: 'flagged' });
    expect(byId(await page(owner, room.id), reply.final.id)).toMatchObject({
      content: 'FLAGME says the bot',
      withheld: 'flagged',
    });
  });

  it('should keep a withheld message out of what the assistant reads', async () => {
    const { author, member, room, memberSocket } = await roomOfThree(t, 'mc', 'always');
    const watcher = await watchRoom(t.sockets, member, room.id);
    const withheld = nextEvent(memberSocket, 'message:updated', (p) => p.message.withheld === 'flagged');
    const flagged = await postMessage(author, room.id, 'FLAGME secret insult');
    await watcher.log.reply(flagged.id);
    expect((await withheld).message.id).toBe(flagged.id);

    const asked = t.fake.requests.length;
    const question = await postMessage(member, room.id, 'what was said?');
    await watcher.log.reply(question.id);
    const conversation = conversationOf(t.fake.requests[asked].body);
    // Neither the withheld question (nor a blank in its place) nor the answer to it: the question alone.
    expect(conversation).toEqual([{ role: 'user', content: expect.stringContaining('what was said?') }]);
    expect(JSON.stringify(t.fake.requests[asked].body)).not.toContain('FLAGME');
  });

  it('should leave messages as they are while the provider is down (MODERATION_FAIL_OPEN=true)', async () => {
    const { author, member, room, authorSocket, memberSocket } = await roomOfThree(t, 'mo');
    const updates = collect(memberSocket, 'message:updated');
    const told = collect(authorSocket, 'message:withheld');
    t.fake.moderation.fail('error');
    let unchecked: any;
    try {
      const before = t.fake.moderationRequests.length;
      unchecked = await postMessage(author, room.id, 'FLAGME while nobody checks');
      await t.fake.waitForModerationRequests(before + 1);
    } finally {
      t.fake.moderation.fail(null);
    }
    // The provider back: the next flagged message is withheld; the one checked during the outage never is.
    const withdrawal = nextEvent(memberSocket, 'message:updated', (p) => p.message.withheld === 'flagged');
    const authorTold = nextEvent(authorSocket, 'message:withheld');
    const checked = await postMessage(author, room.id, 'FLAGME once it checks');
    expect((await withdrawal).message.id).toBe(checked.id);
    expect((await authorTold).messageId).toBe(checked.id);
    expect(updates.map((p) => p.message.id)).toEqual([checked.id]);
    expect(told.map((p) => p.messageId)).toEqual([checked.id]);
    expect(byId(await page(member, room.id), unchecked.id)).toMatchObject({ content: 'FLAGME while nobody checks' });
    expect(byId(await page(member, room.id), unchecked.id)).not.toHaveProperty('withheld');
  });
});

describe('moderation before storing (MODERATION_MODE=pre, MODERATION_FAIL_OPEN=false)', () => {
  const t = useAiApp({
    MODERATION: 'openai',
    MODERATION_MODE: 'pre',
    MODERATION_FAIL_OPEN: 'false',
    MODERATION_RETRY_MS: '1000',
  });

  it('should never deliver flagged content: the room gets a placeholder, the author the text and why', async () => {
    const { owner, author, member, room, authorSocket, memberSocket } = await roomOfThree(t, 'me');
    const news = collect(memberSocket, 'message:new');
    const told = nextEvent(authorSocket, 'message:withheld');

    const sent = await ack(authorSocket, 'message:send', {
      roomId: room.id,
      content: 'FLAGME hidden',
      clientId: 'pre-1',
    });
    expect(sent.ok).toBe(true);
    expect(sent.message).toMatchObject({ content: 'FLAGME hidden', withheld: 'flagged', seq: 1 });
    const cleanArrived = nextEvent(memberSocket, 'message:new', (p) => p.message.seq === 2);
    const clean = await postMessage(author, room.id, 'fine words');
    await cleanArrived;
    expect(news.map((p) => [p.message.seq, p.message.content, p.message.withheld ?? null])).toEqual([
      [1, '', 'flagged'],
      [2, 'fine words', null],
    ]);
    expect((await told).categories).toEqual(['harassment']);
    // A retry of the send answers the author's stored message, withheld, with its text.
    const again = await ack(authorSocket, 'message:send', {
      roomId: room.id,
      content: 'FLAGME hidden',
      clientId: 'pre-1',
    });
    expect(again).toMatchObject({ duplicate: true, message: { content: 'FLAGME hidden', withheld: 'flagged' } });
    expect(byId(await page(member, room.id), sent.message.id)).toMatchObject({ content: '', withheld: 'flagged' });
    expect(byId(await page(owner, room.id), sent.message.id)).toMatchObject({ content: 'FLAGME hidden' });

    // An edit is checked before it is stored too.
    const edit = await author.http.patch(`/api/rooms/${room.id}/messages/${clean.id}`, { content: 'now FLAGME' });
    expect(edit.status).toBe(200);
    expect(edit.body.message).toMatchObject({ content: 'now FLAGME', withheld: 'flagged' });
    expect(byId(await page(member, room.id), clean.id)).toMatchObject({ content: '', withheld: 'flagged' });
    expect(JSON.stringify(news)).not.toContain('FLAGME');
  });

  it('should hold messages while the provider is down and release or flag each when it is back, losing none', async () => {
    const { author, member, room, memberSocket } = await roomOfThree(t, 'mh');
    t.fake.moderation.fail('error');
    let good: any;
    let bad: any;
    try {
      good = await postMessage(author, room.id, 'held but fine');
      bad = await postMessage(author, room.id, 'held and FLAGME');
      expect([good.withheld, bad.withheld]).toEqual(['pending', 'pending']);
      expect(good.content).toBe('held but fine');
      expect((await page(member, room.id)).map((m) => [m.content, m.withheld])).toEqual([
        ['', 'pending'],
        ['', 'pending'],
      ]);
    } finally {
      const released = updated(memberSocket, good.id, (m) => !m.withheld);
      const flagged = updated(memberSocket, bad.id, (m) => m.withheld === 'flagged');
      t.fake.moderation.fail(null);
      expect(await released).toMatchObject({ content: 'held but fine', rev: expect.any(Number) });
      expect(await flagged).toMatchObject({ content: '' });
    }
    expect((await page(member, room.id)).map((m) => [m.content, m.withheld ?? null])).toEqual([
      ['held but fine', null],
      ['', 'flagged'],
    ]);
  });
});
