/**
 * The inbox (PROTOCOL.md §4 `room:activity`): a signed-in socket hears of every message in all its user's rooms
 * without joining them — one compact event per stored message (and per reply's final status), none for rooms the
 * user is not in, none after they leave or are removed, and none for a room the socket joined (it gets the
 * message itself). In the `cluster` project the instances are separate processes: senders and readers are put on
 * different instances on purpose.
 */
import type { Socket } from 'socket.io-client';
import { createAiRoom, postMessage, useAiApp, watchRoom } from '../support/ai-helpers';
import { eventually } from '../support/eventually';
import { HttpClient, signUp, type TestUser } from '../support/http-client';
import { addMembers, createRoom, range } from '../support/realtime-helpers';
import { collect, connectSocket, joinRoom, settle } from '../support/socket-client';

describe('the inbox (room:activity)', () => {
  const t = useAiApp();
  const opened: Socket[] = [];
  afterEach(() => {
    opened.splice(0).forEach((socket) => socket.close());
  });

  /** The last instance (in a single-process run, the only one): readers connect there. */
  const readerUrl = (): string => t.urls[t.urls.length - 1];
  /** The same user, calling the first instance: senders send there (another process in the cluster project). */
  const onFirst = (user: TestUser): TestUser => ({ ...user, http: new HttpClient(t.urls[0], user.token) });

  async function reader(user: TestUser): Promise<{ socket: Socket; activity: any[] }> {
    const socket = await connectSocket(readerUrl(), user.token);
    opened.push(socket);
    return { socket, activity: collect(socket, 'room:activity') };
  }

  /** Waits until `activity` holds `count` events, then proves no more arrive after a round trip. */
  async function exactly(socket: Socket, activity: any[], count: number, label: string): Promise<void> {
    await eventually(() => activity.length >= count, label);
    await settle(socket);
    expect(activity).toHaveLength(count);
  }

  it('should give a socket that joined no room one room:activity per message in each of its rooms, and none of other rooms', async () => {
    const [owner, member, outsider] = await Promise.all([
      signUp(t.url, 'ib_o'),
      signUp(t.url, 'ib_m'),
      signUp(t.url, 'ib_x'),
    ]);
    const rooms = await Promise.all([createRoom(owner), createRoom(owner)]);
    const foreign = await createRoom(outsider);
    for (const room of rooms) {
      await addMembers(owner, room.id, member);
    }
    const { socket, activity } = await reader(member);

    const sender = onFirst(owner);
    const sent: any[] = [];
    for (const i of range(1, 3)) {
      for (const room of rooms) {
        sent.push(await postMessage(sender, room.id, `hello ${i} in ${room.name}`));
      }
    }
    await postMessage(onFirst(outsider), foreign.id, 'not for the member');

    await exactly(socket, activity, sent.length, 'one room:activity per message');
    for (const room of rooms) {
      const mine = sent.filter((m) => m.roomId === room.id);
      expect(activity.filter((a) => a.roomId === room.id)).toEqual(
        mine.map((m) => ({
          roomId: room.id,
          lastSeq: m.seq,
          lastMessage: { seq: m.seq, role: 'user', senderId: owner.id, preview: m.content, createdAt: m.createdAt },
        })),
      );
    }
  });

  it('should send a joined socket message:new and no room:activity for that room, while its other rooms stay in its inbox', async () => {
    const [owner, member] = await Promise.all([signUp(t.url, 'ib_o'), signUp(t.url, 'ib_m')]);
    const [open, other] = await Promise.all([createRoom(owner), createRoom(owner)]);
    await addMembers(owner, open.id, member);
    await addMembers(owner, other.id, member);
    const { socket, activity } = await reader(member);
    const news = collect(socket, 'message:new');
    await joinRoom(socket, open.id);

    const inOpen = await postMessage(onFirst(owner), open.id, 'seen in the room');
    const inOther = await postMessage(onFirst(owner), other.id, 'seen in the inbox');

    await exactly(socket, activity, 1, 'the other room’s activity');
    await eventually(() => news.length >= 1, 'the joined room’s message');
    expect(activity.map((a) => [a.roomId, a.lastSeq])).toEqual([[other.id, inOther.seq]]);
    expect(news.map((n) => n.message.id)).toEqual([inOpen.id]);
  });

  it('should tell each of a user’s sockets that has not joined the room, on any instance, once', async () => {
    const [owner, member] = await Promise.all([signUp(t.url, 'ib_o'), signUp(t.url, 'ib_m')]);
    const room = await createRoom(owner);
    await addMembers(owner, room.id, member);
    const phones = await Promise.all(
      t.urls.map(async (url) => {
        const socket = await connectSocket(url, member.token);
        opened.push(socket);
        return { socket, activity: collect(socket, 'room:activity') };
      }),
    );

    const sent = await postMessage(onFirst(owner), room.id, 'to every device');

    for (const phone of phones) {
      await exactly(phone.socket, phone.activity, 1, 'the activity on each device');
      expect(phone.activity[0].lastMessage.seq).toBe(sent.seq);
    }
  });

  it('should start a member’s inbox when they are added while connected, and end it when they are removed or leave', async () => {
    const [owner, added, leaver] = await Promise.all([
      signUp(t.url, 'ib_o'),
      signUp(t.url, 'ib_a'),
      signUp(t.url, 'ib_l'),
    ]);
    const room = await createRoom(owner);
    await addMembers(owner, room.id, leaver);
    const addedReader = await reader(added);
    const leaverReader = await reader(leaver);
    const joinedNotice = collect(addedReader.socket, 'member:added');

    await postMessage(onFirst(owner), room.id, 'before the add');
    await addMembers(owner, room.id, added);
    await eventually(() => joinedNotice.length === 1, 'member:added on the new member’s socket');
    const afterAdd = await postMessage(onFirst(owner), room.id, 'after the add');
    await exactly(addedReader.socket, addedReader.activity, 1, 'the new member’s first activity');
    expect(addedReader.activity[0].lastSeq).toBe(afterAdd.seq);
    await exactly(leaverReader.socket, leaverReader.activity, 2, 'the leaver’s activity while a member');

    // The owner's own socket proves the messages went out before the others are checked. It connects first: one
    // connecting after a message could still get that message's news, through Redis from the other instance.
    const { socket: ownerSocket, activity: ownerActivity } = await reader(owner);
    expect((await leaver.http.post(`/api/rooms/${room.id}/leave`)).status).toBe(204);
    expect((await owner.http.delete(`/api/rooms/${room.id}/members/${added.id}`)).status).toBe(204);
    await postMessage(onFirst(owner), room.id, 'after they went');
    await postMessage(onFirst(owner), room.id, 'one more');
    await exactly(ownerSocket, ownerActivity, 2, 'the owner’s activity');

    await settle(addedReader.socket);
    await settle(leaverReader.socket);
    expect(addedReader.activity).toHaveLength(1);
    expect(leaverReader.activity).toHaveLength(2);
  });

  it('should start the inbox of a user who joins a public room', async () => {
    const [owner, joiner] = await Promise.all([signUp(t.url, 'ib_o'), signUp(t.url, 'ib_j')]);
    const room = await createRoom(owner, 'public');
    const { socket, activity } = await reader(joiner);

    await postMessage(onFirst(owner), room.id, 'before the join');
    // Joined on the instance that sent the news before it, so that the news comes before the join everywhere.
    expect((await onFirst(joiner).http.post(`/api/rooms/${room.id}/join`)).status).toBe(200);
    const after = await postMessage(onFirst(owner), room.id, 'after the join');

    await exactly(socket, activity, 1, 'the joiner’s activity');
    expect(activity[0].lastSeq).toBe(after.seq);
  });

  it('should tell of an assistant reply when it starts and when it ends, with its final text', async () => {
    const [owner, member] = await Promise.all([signUp(t.url, 'ib_o'), signUp(t.url, 'ib_m')]);
    const room = await createAiRoom(owner, { mode: 'always' });
    await addMembers(owner, room.id, member);
    const watcher = await watchRoom(t.sockets, owner, room.id);
    const { socket, activity } = await reader(member);
    t.fake.script({ kind: 'stream', chunks: ['The answer ', 'is 42.'] });

    const question = await postMessage(onFirst(owner), room.id, 'what is the answer?');
    const reply = await watcher.log.reply(question.id);

    await exactly(socket, activity, 3, 'the question, the reply’s start and its end');
    expect(activity.map((a) => [a.lastMessage.seq, a.lastMessage.role, a.lastMessage.preview])).toEqual([
      [question.seq, 'user', 'what is the answer?'],
      [reply.created.seq, 'assistant', ''],
      [reply.created.seq, 'assistant', 'The answer is 42.'],
    ]);
    expect(activity[2].lastMessage.senderId).toBeNull();
  });

  it('should cut the preview at 140 characters without splitting one', async () => {
    const [owner, member] = await Promise.all([signUp(t.url, 'ib_o'), signUp(t.url, 'ib_m')]);
    const room = await createRoom(owner);
    await addMembers(owner, room.id, member);
    const { socket, activity } = await reader(member);
    const long = `${'😀'.repeat(100)}${'x'.repeat(100)}`;

    await postMessage(onFirst(owner), room.id, long);

    await exactly(socket, activity, 1, 'the activity');
    expect(activity[0].lastMessage.preview).toBe(`${'😀'.repeat(100)}${'x'.repeat(40)}`);
    const listed = (await member.http.get('/api/rooms')).body.rooms.find((r: any) => r.id === room.id);
    expect(listed.lastMessage.preview).toBe(activity[0].lastMessage.preview);
  });
});
