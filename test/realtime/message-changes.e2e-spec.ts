/**
 * Messages that change (issue 17 items 2-3, PROTOCOL.md §3 "Editing and deleting", "Reactions"): the author edits
 * within MESSAGE_EDIT_WINDOW_SECONDS, the author or the room's owner deletes (a tombstone, the text gone), members
 * react; each change is the room's next rev, live and in the change feed; none is activity (no unread, no inbox
 * event but for the room's last message's preview); the assistant never sees deleted text.
 */
import type { Socket } from 'socket.io-client';
import { conversationOf, createAiRoom, useAiApp, watchRoom } from '../support/ai-helpers';
import { addMembers } from '../support/chat-api';
import { expectProblem, signUp, type TestUser } from '../support/http-client';
import { ackOnce, expectErrorAck, postMessage, range } from '../support/realtime-helpers';
import { untilCount } from '../support/delivery-helpers';
import { collect, connectSocket, settle } from '../support/socket-client';

const edit = (user: TestUser, roomId: string, id: string, content: unknown) =>
  user.http.patch(`/api/rooms/${roomId}/messages/${id}`, { content });
const remove = (user: TestUser, roomId: string, id: string) => user.http.delete(`/api/rooms/${roomId}/messages/${id}`);
const react = (user: TestUser, roomId: string, id: string, emoji: string, add = true) =>
  user.http.request(
    add ? 'PUT' : 'DELETE',
    `/api/rooms/${roomId}/messages/${id}/reactions/${encodeURIComponent(emoji)}`,
  );

async function fullReload(user: TestUser, roomId: string): Promise<Map<string, any>> {
  const res = await user.http.get(`/api/rooms/${roomId}/messages?afterSeq=0&limit=100`);
  return new Map(res.body.messages.map((m: any) => [m.id, m]));
}

describe('editing, deleting and reacting', () => {
  const t = useAiApp();

  it('should let the author edit, give it editedAt and the next rev, tell the room, and refuse everyone else', async () => {
    const [author, other] = await Promise.all([signUp(t.url, 'ed_a'), signUp(t.url, 'ed_o')]);
    const room = await createAiRoom(author, { mode: 'off' });
    await addMembers(author, room.id, other);
    const first = await postMessage(author, room.id, 'helo');
    await postMessage(other, room.id, 'last one');
    const watcher = await watchRoom(t.sockets, other, room.id);
    // On the instance that stored the last message, which told its inbox before it answered: on another, that news
    // could still come through Redis after the socket joined its inbox.
    const inbox = await connectSocket(other.http.baseUrl, author.token);
    const activity = collect(inbox, 'room:activity');
    try {
      const res = await edit(author, room.id, first.id, '  hello  ');
      expect(res.status).toBe(200);
      expect(res.body.message).toEqual({
        ...first,
        content: 'hello',
        rev: 3,
        editedAt: expect.any(String),
        updatedAt: expect.any(String),
      });
      const at = await watcher.log.waitFor((e, p) => e === 'message:updated' && p.message.id === first.id, 'the edit');
      expect(watcher.log.entries[at][1].message).toEqual(res.body.message);

      expectProblem(await edit(other, room.id, first.id, 'not mine'), 403, 'FORBIDDEN');
      expectProblem(await edit(author, room.id, first.id, '   '), 400, 'VALIDATION_FAILED');
      expectProblem(await edit(author, room.id, first.id, 42), 400, 'VALIDATION_FAILED');
      expectProblem(await edit(author, room.id, first.id, 'x'.repeat(4001)), 400, 'VALIDATION_FAILED');
      const stranger = await signUp(t.url, 'ed_x');
      expectProblem(await edit(stranger, room.id, first.id, 'hi'), 404, 'NOT_FOUND');
      // Nothing of the refused edits was written; an edit of an older message is no inbox news.
      expect((await fullReload(author, room.id)).get(first.id).content).toBe('hello');
      await settle(inbox);
      expect(activity).toEqual([]);
      const rooms = await other.http.get('/api/rooms');
      expect(rooms.body.rooms.find((r: any) => r.id === room.id)).toMatchObject({ unread: 0, lastRev: 3 });
    } finally {
      inbox.close();
    }
  });

  it('should let the author or the owner delete: a tombstone, the text gone, the preview too, never in a reply', async () => {
    const [owner, member] = await Promise.all([signUp(t.url, 'dl_o'), signUp(t.url, 'dl_m')]);
    const room = await createAiRoom(owner, { mode: 'mention' });
    await addMembers(owner, room.id, member);
    const secret = await postMessage(member, room.id, 'my secret is 4242');
    const mine = await postMessage(owner, room.id, 'owner words');
    await postMessage(member, room.id, 'the last one is secret too');
    const last = (await fullReload(owner, room.id)).get(
      [...(await fullReload(owner, room.id)).values()].find((m) => m.seq === 3).id,
    );
    // On the instance that stored the last message (see the edit test above).
    const inbox = await connectSocket(member.http.baseUrl, owner.token);
    const activity = collect(inbox, 'room:activity');
    try {
      expectProblem(await remove(member, room.id, mine.id), 403, 'FORBIDDEN');
      const byOwner = await remove(owner, room.id, secret.id);
      expect(byOwner.status).toBe(200);
      expect(byOwner.body.message).toMatchObject({
        id: secret.id,
        seq: secret.seq,
        content: '',
        deletedAt: expect.any(String),
        deletedBy: owner.id,
      });
      expect(byOwner.body.message.rev).toBeGreaterThan(3);
      // A second delete changes nothing.
      expect((await remove(owner, room.id, secret.id)).body.message).toEqual(byOwner.body.message);

      const byAuthor = await remove(member, room.id, last.id);
      expect(byAuthor.body.message).toMatchObject({ content: '', deletedBy: member.id });
      // The room's last message was deleted: the inbox preview follows, empty, same lastSeq; GET /api/rooms too.
      // Sent by the instance that served the author's delete, maybe not the inbox socket's: waited for, then settled.
      await untilCount(inbox, 'room:activity', activity, 1, 10_000);
      await settle(inbox);
      expect(activity).toEqual([
        { roomId: room.id, lastSeq: 3, lastMessage: expect.objectContaining({ seq: 3, preview: '' }) },
      ]);
      const listed = (await owner.http.get('/api/rooms')).body.rooms.find((r: any) => r.id === room.id);
      expect(listed.lastMessage.preview).toBe('');
      expect(JSON.stringify(await fullReload(owner, room.id))).not.toMatch(/secret/);

      // The assistant is asked afterwards: nothing deleted reaches the provider.
      t.fake.script({ kind: 'stream', chunks: ['ok'] });
      const before = t.fake.requests.length;
      const watcher = await watchRoom(t.sockets, owner, room.id);
      const question = await postMessage(owner, room.id, '@ai what was said?');
      await watcher.log.reply(question.id);
      const sent = conversationOf(t.fake.requests[before].body)
        .map((m) => m.content)
        .join('\n');
      expect(sent).toContain('owner words');
      expect(sent).not.toMatch(/secret/);
    } finally {
      inbox.close();
    }
  });

  it('should count reactions right under concurrent adds and removes, with a delta and the next rev each', async () => {
    const owner = await signUp(t.url, 'rx_o');
    const members = await Promise.all(range(1, 8).map(() => signUp(t.url, 'rx_m')));
    const room = await createAiRoom(owner, { mode: 'off' });
    await addMembers(owner, room.id, ...members);
    const message = await postMessage(owner, room.id, 'react to me');
    // Two watchers (one per instance when the app runs as several): each gets every delta.
    const watcher = await watchRoom(t.sockets, owner, room.id);
    const second = await watchRoom(t.sockets, members[7], room.id);

    const added = await Promise.all(
      members.flatMap((m) => [react(m, room.id, message.id, '👍'), react(m, room.id, message.id, '🎉')]),
    );
    const removed = await Promise.all(members.slice(0, 3).map((m) => react(m, room.id, message.id, '🎉', false)));
    expect([...added, ...removed].map((res) => [res.status, res.body?.code ?? 'ok'])).toEqual(
      Array.from({ length: 19 }, () => [200, 'ok']),
    );
    // A repeat and a removal of nothing change nothing.
    const again = await react(members[7], room.id, message.id, '👍');
    const none = await react(members[0], room.id, message.id, '🎉', false);

    expect(again.body.message.reactions).toEqual({ '👍': 8, '🎉': 5 });
    expect(none.body.message.rev).toBe(again.body.message.rev);
    const stored = (await fullReload(owner, room.id)).get(message.id);
    expect(stored.reactions).toEqual({ '👍': 8, '🎉': 5 });
    // Each reader's own ("mine") on what it reads; nothing for one who did not react. (Both were added at once here:
    // their order, the order added, is the database's.)
    expect(stored).not.toHaveProperty('myReactions');
    expect((await fullReload(members[7], room.id)).get(message.id).myReactions.sort()).toEqual(['👍', '🎉'].sort());
    const changesOfFirst = await members[0].http.get(`/api/rooms/${room.id}/changes?afterRev=0`);
    expect(changesOfFirst.body.messages[0]).toMatchObject({ id: message.id, myReactions: ['👍'] });
    // One delta per change, revs 2..20 each once (16 adds and 3 removes after the message's rev 1).
    await watcher.log.waitFor(
      (e) => e === 'message:reaction' && watcher.log.of('message:reaction').length >= 19,
      'the deltas',
    );
    await settle(watcher.socket);
    const deltas = watcher.log.of('message:reaction');
    expect(deltas.map((d) => d.rev).sort((a, b) => a - b)).toEqual(range(2, 20));
    await second.log.waitFor(
      (e) => e === 'message:reaction' && second.log.of('message:reaction').length >= 19,
      'the deltas on the second watcher',
    );
    await settle(second.socket);
    const byRev = (list: any[]) => [...list].sort((a, b) => a.rev - b.rev);
    expect(byRev(second.log.of('message:reaction'))).toEqual(byRev(deltas));
    expect(
      deltas
        .filter((d) => !d.added)
        .map((d) => d.profileId)
        .sort(),
    ).toEqual(
      members
        .slice(0, 3)
        .map((m) => m.id)
        .sort(),
    );
    expect(stored.rev).toBe(20);

    for (const emoji of ['', 'abc', 'x'.repeat(40), '👍👍👍👍👍👍👍👍👍👍👍👍👍👍👍👍👍']) {
      expectProblem(
        await react(owner, room.id, message.id, emoji || '%20'),
        emoji === '' ? 400 : 400,
        'VALIDATION_FAILED',
      );
    }
  });

  it('should bring a client that was away up to date with afterRev: the same state as a full reload, each once', async () => {
    const [owner, member] = await Promise.all([signUp(t.url, 'rs_o'), signUp(t.url, 'rs_m')]);
    const room = await createAiRoom(owner, { mode: 'off' });
    await addMembers(owner, room.id, member);
    const held: any[] = [];
    for (const i of range(1, 4)) {
      held.push(await postMessage(owner, room.id, `m${i}`));
    }
    const heldRev = 4;
    // While away: new messages, an edit, a delete, reactions.
    const m5 = await postMessage(member, room.id, 'm5');
    await edit(owner, room.id, held[0].id, 'm1 fixed');
    await remove(member, room.id, m5.id);
    await react(member, room.id, held[1].id, '❤️');
    await postMessage(owner, room.id, 'm6');

    const socket: Socket = await connectSocket(t.url, member.token);
    try {
      const state = new Map<string, any>(held.map((m) => [m.id, m]));
      let afterRev = heldRev;
      for (;;) {
        const joined = await ackOnce(socket, 'room:join', { roomId: room.id, afterRev, limit: 2 });
        expect(joined.ok).toBe(true);
        const revs = joined.messages.map((m: any) => m.rev);
        expect(revs).toEqual([...revs].sort((a: number, b: number) => a - b));
        joined.messages.forEach((m: any) => state.set(m.id, m));
        if (!joined.hasMore) {
          expect(joined.lastRev).toBe(9);
          break;
        }
        afterRev = revs[revs.length - 1];
      }
      expect(state).toEqual(await fullReload(member, room.id));
      expect(state.get(held[1].id)).toMatchObject({ reactions: { '❤️': 1 }, myReactions: ['❤️'] });
      expect((await fullReload(owner, room.id)).get(held[1].id)).not.toHaveProperty('myReactions');
      expectErrorAck(
        await ackOnce(socket, 'message:delete', { roomId: room.id, messageId: 'nope' }),
        'VALIDATION_FAILED',
        'messageId',
      );
      expectErrorAck(
        await ackOnce(socket, 'message:edit', { roomId: room.id, messageId: held[1].id, content: 'x' }),
        'FORBIDDEN',
      );
    } finally {
      socket.close();
    }
  });
});

describe('the edit window (MESSAGE_EDIT_WINDOW_SECONDS=0)', () => {
  const t = useAiApp({ MESSAGE_EDIT_WINDOW_SECONDS: '0' });

  it('should refuse an edit once the window has passed, and change nothing', async () => {
    const author = await signUp(t.url, 'ew_a');
    const room = await createAiRoom(author, { mode: 'off' });
    const message = await postMessage(author, room.id, 'too late');

    expectProblem(await edit(author, room.id, message.id, 'fixed'), 403, 'FORBIDDEN');
    expect((await fullReload(author, room.id)).get(message.id)).toEqual(message);
    // Deleting has no window.
    expect((await remove(author, room.id, message.id)).status).toBe(200);
  });

  it('should tell clients the window, and the other limits they must keep, at GET /api/limits', async () => {
    const user = await signUp(t.url, 'ew_l');
    const limits = await user.http.get('/api/limits');
    expect([limits.status, limits.body]).toEqual([
      200,
      { messageMaxLength: 4000, editWindowSeconds: 0, reactionMaxLength: 32 },
    ]);
    expectProblem(await user.http.as(undefined).get('/api/limits'), 401, 'UNAUTHENTICATED');
  });
});
