/**
 * Blocking a person (issue 18 item 2, PROTOCOL.md §3 "Blocks"): the blocker no longer reads the blocked person's
 * messages — live, in history, in the change feed, in the room list — yet holds every seq and rev (placeholders);
 * the blocked person cannot add the blocker to a room; unblocking restores everything.
 */
import type { Socket } from 'socket.io-client';
import { addMembers, postMessage } from './support/chat-api';
import { expectProblem, HttpClient, signUp, type TestUser } from './support/http-client';
import { createRoom, NON_UUID_IDS, UNKNOWN_ID } from './support/rooms-helpers';
import { ack, collect, joinRoom, nextEvent, settle } from './support/socket-client';
import { useTestApp } from './support/test-app';

describe('blocks', () => {
  const t = useTestApp();

  const block = (user: TestUser, profileId: string) => user.http.post(`/api/profiles/${profileId}/block`, {});
  const unblock = (user: TestUser, profileId: string) => user.http.delete(`/api/profiles/${profileId}/block`);
  const page = async (user: TestUser, roomId: string, query = '') => {
    const res = await user.http.get(`/api/rooms/${roomId}/messages${query}`);
    expect(res.status).toBe(200);
    return res.body.messages as any[];
  };
  const view = (messages: any[]) => messages.map((m) => [m.seq, m.content, m.withheld ?? null]);

  /** Blocks and waits until each of the blocker's sockets heard it (the block then holds on every instance). */
  async function blockSeen(user: TestUser, profileId: string, sockets: Socket[], blocked = true) {
    const heard = sockets.map((socket) => nextEvent(socket, 'block:updated', (p) => p.profileId === profileId));
    const res = await (blocked ? block(user, profileId) : unblock(user, profileId));
    expect([res.status, res.body]).toEqual([200, { profileId, blocked }]);
    expect(await Promise.all(heard)).toEqual(sockets.map(() => ({ profileId, blocked })));
  }

  /** A room of the blocker's with the person they will block and a bystander. */
  async function roomOfThree(prefix: string) {
    const [blocker, blocked, bystander] = await Promise.all(
      ['o', 'b', 'c'].map((who) => signUp(t.url, `${prefix}_${who}`)),
    );
    const room = await createRoom(blocker, { name: `${prefix} room`, visibility: 'private' });
    await addMembers(blocker, room.id, blocked, bystander);
    return { blocker, blocked, bystander, room };
  }

  it('should block and unblock by id, list whom one blocked, and refuse oneself, unknown people and bad ids', async () => {
    const [me, other, third] = await Promise.all(['bk_me', 'bk_ot', 'bk_th'].map((p) => signUp(t.url, p)));

    expect([(await block(me, other.id)).status, (await block(me, other.id)).body]).toEqual([
      200,
      { profileId: other.id, blocked: true },
    ]);
    expect((await block(me, third.id)).status).toBe(200);
    const listed = await me.http.get('/api/blocks');
    expect(listed.status).toBe(200);
    expect(listed.body.blocks.map((b: any) => b.profile.id).sort()).toEqual([other.id, third.id].sort());
    expect(listed.body.blocks[0]).toEqual({
      profile: expect.objectContaining({ id: expect.any(String), username: expect.any(String) }),
      createdAt: expect.stringMatching(/Z$/),
    });
    // Nobody else sees it, the blocked person included.
    expect((await other.http.get('/api/blocks')).body).toEqual({ blocks: [] });

    expect([(await unblock(me, other.id)).status, (await unblock(me, other.id)).body]).toEqual([
      200,
      { profileId: other.id, blocked: false },
    ]);
    expect((await me.http.get('/api/blocks')).body.blocks.map((b: any) => b.profile.id)).toEqual([third.id]);

    expectProblem(await block(me, me.id), 400, 'VALIDATION_FAILED');
    expectProblem(await block(me, UNKNOWN_ID), 404, 'NOT_FOUND');
    expectProblem(await unblock(me, UNKNOWN_ID), 404, 'NOT_FOUND');
    for (const id of NON_UUID_IDS) {
      // As for every id in a path (PROTOCOL.md §2): what is not a UUID names nothing.
      expectProblem(await block(me, encodeURIComponent(id)), 404, 'NOT_FOUND');
    }
    const anonymous = new HttpClient(t.url);
    expectProblem(await anonymous.post(`/api/profiles/${other.id}/block`, {}), 401, 'UNAUTHENTICATED');
    expectProblem(await anonymous.get('/api/blocks'), 401, 'UNAUTHENTICATED');
  });

  it('should read the blocked person’s messages as placeholders in pages, changes and join backlogs, gapless, until unblocked', async () => {
    const { blocker, blocked, bystander, room } = await roomOfThree('bk_h');
    const first = await postMessage(blocked, room.id, 'from the blocked one');
    await postMessage(bystander, room.id, 'from the bystander');
    const reacted = await blocked.http.request(
      'PUT',
      `/api/rooms/${room.id}/messages/${first.id}/reactions/${encodeURIComponent('👍')}`,
      {},
    );
    expect(reacted.status).toBeLessThan(300);
    await postMessage(blocked, room.id, 'again, blocked');

    expect((await block(blocker, blocked.id)).status).toBe(200);

    const read = await page(blocker, room.id);
    expect(view(read)).toEqual([
      [1, '', 'blocked'],
      [2, 'from the bystander', null],
      [3, '', 'blocked'],
    ]);
    expect(read[0]).not.toHaveProperty('reactions');
    expect(read[0]).toMatchObject({ id: first.id, senderId: blocked.id, rev: expect.any(Number) });
    // Everyone else reads them as they are, the blocked person too.
    expect(view(await page(bystander, room.id)).map(([, content]) => content)).toEqual([
      'from the blocked one',
      'from the bystander',
      'again, blocked',
    ]);
    expect((await page(blocked, room.id))[0]).toMatchObject({
      content: 'from the blocked one',
      reactions: { '👍': 1 },
    });

    // The change feed: every rev, the blocked person's as placeholders.
    const changes = await blocker.http.get(`/api/rooms/${room.id}/changes?afterRev=0`);
    expect(changes.body.messages.map((m: any) => [m.seq, m.content, m.withheld ?? null])).toEqual([
      [2, 'from the bystander', null],
      [1, '', 'blocked'],
      [3, '', 'blocked'],
    ]);
    // A join's backlog, on a socket.
    const socket = await t.sockets.open(blocker);
    const joined = await joinRoom(socket, room.id);
    expect(view(joined.messages)).toEqual(view(read));
    // The room list shows no preview of it, and the unread count leaves it out.
    const listed = await blocker.http.get(`/api/rooms/${room.id}`);
    expect(listed.body.lastMessage).toMatchObject({ seq: 3, preview: '', withheld: 'blocked' });
    expect(listed.body.unread).toBe(1);

    // Unblocking restores everything.
    expect((await unblock(blocker, blocked.id)).status).toBe(200);
    expect(view(await page(blocker, room.id))).toEqual([
      [1, 'from the blocked one', null],
      [2, 'from the bystander', null],
      [3, 'again, blocked', null],
    ]);
    const after = await blocker.http.get(`/api/rooms/${room.id}`);
    expect(after.body.lastMessage).toMatchObject({ seq: 3, preview: 'again, blocked' });
    expect(after.body.lastMessage).not.toHaveProperty('withheld');
  });

  it('should send the blocked person’s new messages and edits live as placeholders, and neither their typing nor activity', async () => {
    const { blocker, blocked, bystander, room } = await roomOfThree('bk_l');
    const [inRoom, inbox, other] = [
      await t.sockets.open(blocker),
      await t.sockets.open(blocker),
      await t.sockets.open(bystander),
    ];
    await joinRoom(inRoom, room.id);
    await joinRoom(other, room.id);
    const typer = await t.sockets.open(blocked);
    await joinRoom(typer, room.id);
    await blockSeen(blocker, blocked.id, [inRoom, inbox]);

    const news = collect(inRoom, 'message:new');
    const typing = collect(inRoom, 'typing');
    const activity = collect(inbox, 'room:activity');
    const bystanderNews = collect(other, 'message:new');
    const bystanderTyping = nextEvent(other, 'typing', (p) => p.profileId === blocked.id);
    expect((await ack(typer, 'typing:update', { roomId: room.id, isTyping: true })).ok).toBe(true);
    await bystanderTyping;
    const hidden = await postMessage(blocked, room.id, 'you will not read this');
    const arrived = (socket: Socket, event: string, seq: number) =>
      nextEvent(socket, event, (p) => (p.message?.seq ?? p.lastSeq) === seq);
    const waits = [
      arrived(inRoom, 'message:new', 2),
      arrived(inbox, 'room:activity', 2),
      arrived(other, 'message:new', 2),
    ];
    const seen = await postMessage(bystander, room.id, 'you will read this');
    expect(seen.seq).toBe(2);
    await Promise.all(waits);

    expect(news.map((p) => [p.message.seq, p.message.content, p.message.withheld ?? null])).toEqual([
      [hidden.seq, '', 'blocked'],
      [seen.seq, 'you will read this', null],
    ]);
    expect(news[0].message).toMatchObject({ id: hidden.id, senderId: blocked.id, rev: hidden.rev });
    expect(typing.filter((p) => p.profileId === blocked.id)).toEqual([]);
    expect(activity.map((p) => p.lastSeq)).toEqual([seen.seq]);
    expect(bystanderNews.map((p) => p.message.content)).toEqual(['you will not read this', 'you will read this']);

    // An edit: a placeholder again, with the edit's rev.
    const updated = nextEvent(inRoom, 'message:updated', (p) => p.message.id === hidden.id);
    const edit = await blocked.http.patch(`/api/rooms/${room.id}/messages/${hidden.id}`, { content: 'edited' });
    expect(edit.status).toBe(200);
    expect((await updated).message).toMatchObject({ content: '', withheld: 'blocked', rev: edit.body.message.rev });
    expect(JSON.stringify(news)).not.toContain('you will not read this');

    // Unblocked: the next one arrives as it is.
    await blockSeen(blocker, blocked.id, [inRoom, inbox], false);
    const backArrived = nextEvent(inRoom, 'message:new', (p) => p.message.senderId === blocked.id);
    const back = await postMessage(blocked, room.id, 'readable again');
    expect((await backArrived).message).toMatchObject({ id: back.id, content: 'readable again' });
    await settle(inRoom);
  });

  it('should keep the blocked person from adding the blocker to a room, and nobody else', async () => {
    const [blocker, blocked, friend] = await Promise.all(['bk_ao', 'bk_ab', 'bk_af'].map((p) => signUp(t.url, p)));
    expect((await block(blocker, blocked.id)).status).toBe(200);

    const theirs = await createRoom(blocked, { name: 'theirs', visibility: 'private' });
    expectProblem(
      await blocked.http.post(`/api/rooms/${theirs.id}/members`, { username: blocker.username }),
      403,
      'FORBIDDEN',
    );
    expect((await blocker.http.get('/api/rooms')).body.rooms ?? []).not.toContainEqual(
      expect.objectContaining({ id: theirs.id }),
    );
    // Someone else's room: fine; and the blocker may still add the person they blocked.
    const friends = await createRoom(friend, { name: 'friends', visibility: 'private' });
    expect((await friend.http.post(`/api/rooms/${friends.id}/members`, { username: blocker.username })).status).toBe(
      201,
    );
    const mine = await createRoom(blocker, { name: 'mine', visibility: 'private' });
    expect((await blocker.http.post(`/api/rooms/${mine.id}/members`, { username: blocked.username })).status).toBe(201);
    // Once unblocked, they can.
    expect((await unblock(blocker, blocked.id)).status).toBe(200);
    expect((await blocked.http.post(`/api/rooms/${theirs.id}/members`, { username: blocker.username })).status).toBe(
      201,
    );
  });
});
