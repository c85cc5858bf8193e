/**
 * The change feed (issue 17, PROTOCOL.md §3 "Changes", §4 `room:join { afterRev }`): every change to a room's
 * messages takes the room's next `rev`, gapless per room; a client that was away asks for what changed after the
 * rev it holds (HTTP or `room:join`) and gets each changed message once, in rev order, in its current state.
 */
import { ackOnce, expectErrorAck, postMessage, range, UNKNOWN_ROOM_ID } from '../support/realtime-helpers';
import { createAiRoom, useAiApp, watchRoom } from '../support/ai-helpers';
import { expectProblem, HttpClient, signUp, type TestUser } from '../support/http-client';
import { addMembers } from '../support/chat-api';
import { connectSocket, joinRoom } from '../support/socket-client';

describe('the change feed (rev)', () => {
  const t = useAiApp();

  const changes = (user: TestUser, roomId: string, query: string) =>
    user.http.get(`/api/rooms/${roomId}/changes?${query}`);

  /** Every change after `afterRev`, page by page, as a returning client reads them. */
  async function allChanges(user: TestUser, roomId: string, afterRev: number, limit = 3) {
    const messages: any[] = [];
    let rev = afterRev;
    let lastRev = afterRev;
    for (;;) {
      const res = await changes(user, roomId, `afterRev=${rev}&limit=${limit}`);
      expect(res.status).toBe(200);
      messages.push(...res.body.messages);
      lastRev = res.body.lastRev;
      if (!res.body.hasMore) {
        return { messages, lastRev };
      }
      rev = res.body.messages[res.body.messages.length - 1].rev;
    }
  }

  it('should give every new message and reply final status the next rev, gapless, and list them by rev', async () => {
    const owner = await signUp(t.url, 'cf_o');
    const room = await createAiRoom(owner, { mode: 'always' });
    const watcher = await watchRoom(t.sockets, owner, room.id);
    t.fake.script({ kind: 'stream', chunks: ['fi', 'ne'] });

    const question = await postMessage(owner, room.id, 'how are you?');
    const reply = await watcher.log.reply(question.id);

    // The question (rev 1), the reply's creation (rev 2) and its final status (rev 3): the reply holds its latest.
    expect(question.rev).toBe(1);
    expect(reply.created.rev).toBe(2);
    expect(reply.final).toMatchObject({ status: 'complete', rev: 3 });
    const feed = await allChanges(owner, room.id, 0);
    expect(feed.messages.map((m) => [m.seq, m.rev])).toEqual([
      [1, 1],
      [2, 3],
    ]);
    expect(feed.lastRev).toBe(3);
    const afterQuestion = await allChanges(owner, room.id, 1);
    expect(afterQuestion.messages.map((m) => m.id)).toEqual([reply.final.id]);
    expect(afterQuestion.messages[0].content).toBe('fine');
    // Nothing changed after the last rev: an empty page that still tells the room's rev.
    expect((await changes(owner, room.id, 'afterRev=3')).body).toEqual({ messages: [], hasMore: false, lastRev: 3 });
    const got = await owner.http.get(`/api/rooms/${room.id}`);
    expect(got.body.lastRev).toBe(3);
  });

  it('should keep rev gapless and unique under concurrent sends, edits and reactions, on every instance', async () => {
    const owner = await signUp(t.url, 'cf_c');
    const others = await Promise.all(range(1, 4).map(() => signUp(t.url, 'cf_s')));
    const room = await createAiRoom(owner, { mode: 'off' });
    await addMembers(owner, room.id, ...others);
    // Each user through its own instance when the app runs as several (the cluster project): one each here.
    const via = (user: TestUser, i: number) => new HttpClient(t.urls[i % t.urls.length], user.token);
    const clients = others.map(via);

    const sent = await Promise.all(
      clients.flatMap((http) =>
        range(1, 5).map((i) => http.post(`/api/rooms/${room.id}/messages`, { content: `m${i}` })),
      ),
    );
    expect(sent.map((res) => res.status)).toEqual(Array.from({ length: 20 }, () => 201));
    const changed = await Promise.all(
      sent.flatMap((res, i) => {
        const http = clients[Math.floor(i / 5)];
        const path = `/api/rooms/${room.id}/messages/${res.body.message.id}`;
        return [
          http.patch(path, { content: `m${i} fixed` }),
          http.request('PUT', `${path}/reactions/${encodeURIComponent('👍')}`),
        ];
      }),
    );
    expect(changed.map((res) => res.status)).toEqual(Array.from({ length: 40 }, () => 200));

    const feed = await allChanges(owner, room.id, 0, 7);
    // Each message once, at the rev of its latest change; every rev of the 60 changes taken by exactly one change.
    expect(feed.messages).toHaveLength(20);
    expect(feed.lastRev).toBe(60);
    const revs = feed.messages.map((m) => m.rev);
    expect(revs).toEqual([...revs].sort((a, b) => a - b));
    const ofChanges = changed.map((res) => res.body.message.rev).sort((a, b) => a - b);
    expect([...sent.map((res) => res.body.message.rev), ...ofChanges].sort((a, b) => a - b)).toEqual(range(1, 60));
  });

  it('should resume with room:join { afterRev } over a socket: the changes in rev order with lastRev', async () => {
    const owner = await signUp(t.url, 'cf_j');
    const room = await createAiRoom(owner, { mode: 'off' });
    for (const i of range(1, 5)) {
      await postMessage(owner, room.id, `m${i}`);
    }
    const socket = await connectSocket(t.url, owner.token);
    try {
      const joined = await joinRoom(socket, room.id, { afterRev: 2, limit: 2 });
      expect(joined.messages.map((m: any) => m.rev)).toEqual([3, 4]);
      expect(joined).toMatchObject({ hasMore: true, lastRev: 5 });
      expect(joined.room.lastRev).toBe(5);

      const live = new Promise<any>((resolve) => socket.once('message:new', resolve));
      const sent = await postMessage(owner, room.id, 'live');
      expect((await live).message).toMatchObject({ id: sent.id, seq: 6, rev: 6 });

      // afterSeq still works as before and sends no lastRev; both at once are refused.
      const bySeq = await joinRoom(socket, room.id, { afterSeq: 4 });
      expect(bySeq.messages.map((m: any) => m.seq)).toEqual([5, 6]);
      expect(bySeq).not.toHaveProperty('lastRev');
      expectErrorAck(
        await ackOnce(socket, 'room:join', { roomId: room.id, afterSeq: 1, afterRev: 1 }),
        'VALIDATION_FAILED',
        'afterRev',
      );
      for (const afterRev of [-1, 1.5, '3', null, true]) {
        expectErrorAck(
          await ackOnce(socket, 'room:join', { roomId: room.id, afterRev }),
          'VALIDATION_FAILED',
          'afterRev',
        );
      }
    } finally {
      socket.close();
    }
  });

  it('should refuse bad queries and keep the feed for members', async () => {
    const [owner, stranger] = await Promise.all([signUp(t.url, 'cf_b'), signUp(t.url, 'cf_x')]);
    const room = await createAiRoom(owner, { mode: 'off' });
    await postMessage(owner, room.id, 'secret');

    for (const query of ['afterRev=-1', 'afterRev=1.5', 'afterRev=abc', 'afterRev=0&limit=0', 'afterRev=0&limit=101']) {
      const res = await changes(owner, room.id, query);
      expectProblem(res, 400, 'VALIDATION_FAILED');
    }
    expectProblem(await changes(stranger, room.id, 'afterRev=0'), 404, 'NOT_FOUND');
    expectProblem(await changes(owner, UNKNOWN_ROOM_ID, 'afterRev=0'), 404, 'NOT_FOUND');
    expectProblem(await owner.http.get('/api/rooms/not-a-uuid/changes?afterRev=0'), 404, 'NOT_FOUND');
  });
});
