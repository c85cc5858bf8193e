/**
 * The SDK (client/) against the real server: two clients keep the same gapless room through drops from outside
 * them (the network cut by a proxy, the server disconnecting a socket), a reply streamed while one was away is
 * whole when it is back, the outbox delivers what was queued offline once, after a restart, and edits, deletes and
 * reactions reach the other client live and, for one that was away, through the change feed (`afterRev`), new
 * answers to a question (regenerate, an edit's rerun) come as its next versions, and a client knows its own reactions
 * from what it reads (a fresh join, the feed after a time away); a block turns the blocked person's messages, held and
 * new, into placeholders on each of the blocker's devices, and an unblock brings them back (the SDK reads them again).
 */
import {
  type ChatClient,
  ChatError,
  connect,
  memoryStorage,
  type ClientEvents,
  type StorageAdapter,
} from '../../client/src';
import { createAiRoom, gate, uniqueTag, useAiApp, within } from '../support/ai-helpers';
import { addMembers, postMessage, storedMessages } from '../support/chat-api';
import { signUp, type TestUser } from '../support/http-client';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy';

const t = useAiApp();
const clients: ChatClient[] = [];
const proxies: TcpProxy[] = [];

afterEach(async () => {
  clients.splice(0).forEach((client) => client.close());
  await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
});

function client(url: string, user: TestUser, storage?: StorageAdapter): ChatClient {
  const sdk = connect({ url, getToken: () => user.token, storage });
  // Quick reconnects after a cut network, so the test does not wait out socket.io's default back-off.
  sdk.socket.io.reconnectionDelay(20).reconnectionDelayMax(100);
  clients.push(sdk);
  return sdk;
}

async function proxy(): Promise<TcpProxy> {
  const started = await startTcpProxy(t.url);
  proxies.push(started);
  return started;
}

/** Resolves when `condition` holds, checked now and after each `event` of the client. */
function until<E extends keyof ClientEvents>(
  sdk: ChatClient,
  event: E,
  condition: () => boolean,
  label: string,
): Promise<void> {
  const reached = new Promise<void>((resolve) => {
    if (condition()) {
      resolve();
      return;
    }
    const off = sdk.on(event, () => {
      if (condition()) {
        off();
        resolve();
      }
    });
  });
  return within(reached, label, 20_000);
}

/** Alice and Bob in one room, each with an SDK client that joined it; Bob's goes through a proxy. */
async function twoClientsInRoom(mode: 'off' | 'always') {
  const [alice, bob] = [await signUp(t.url, 'alice'), await signUp(t.url, 'bob')];
  const room = await createAiRoom(alice, { mode });
  await addMembers(alice, room.id, bob);
  const network = await proxy();
  const a = client(t.url, alice);
  const b = client(network.url, bob);
  await Promise.all([a.joinRoom(room.id), b.joinRoom(room.id)]);
  return { alice, bob, room, network, a, b };
}

const seqsOf = (sdk: ChatClient, roomId: string) => sdk.room(roomId).messages.map((m) => m.seq);
const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

describe('client SDK (e2e)', () => {
  it('should keep two clients on the same gapless list through 500 messages and three drops', async () => {
    const { alice, room, network, a, b } = await twoClientsInRoom('off');
    let reconnects = 0;
    b.on('status', (status) => (reconnects += status === 'connected' ? 1 : 0));
    const tag = uniqueTag();
    const drops: (() => Promise<void>)[] = [
      // The network goes: the server and the client each see a dead connection.
      () => Promise.resolve(network.cut()),
      // The server disconnects the socket (a valid token of another user in auth:refresh: FORBIDDEN, then dropped).
      async () => {
        b.socket.emit('auth:refresh', { token: alice.token }, () => undefined);
        await until(b, 'status', () => b.status !== 'connected', 'bob dropped by the server');
      },
      // The network stays down while alice sends a whole round; bob's own round waits in his outbox.
      () => Promise.resolve(network.block()),
    ];

    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 50; i++) {
        a.send(room.id, `${tag} a ${round} ${i}`);
        b.send(room.id, `${tag} b ${round} ${i}`);
      }
      const drop = drops[round];
      if (drop) {
        await drop();
      }
      await until(a, 'change', () => a.outbox.length === 0, `alice's round ${round} sent`);
      if (round === 2) {
        expect(b.status).not.toBe('connected');
        expect(b.outbox.length).toBeGreaterThan(0);
        network.unblock();
      }
      await until(b, 'change', () => b.outbox.length === 0, `bob's round ${round} sent`);
    }

    expect(reconnects).toBe(3);
    await until(a, 'room', () => a.room(room.id).lastSeq === 500, 'alice holds 500');
    await until(b, 'room', () => b.room(room.id).lastSeq === 500, 'bob holds 500');
    expect(seqsOf(a, room.id)).toEqual(range(500));
    expect(seqsOf(b, room.id)).toEqual(range(500));
    expect(b.room(room.id).messages.map((m) => m.id)).toEqual(a.room(room.id).messages.map((m) => m.id));
    const stored = await storedMessages(alice, room.id);
    expect(stored).toHaveLength(500);
    expect(new Set(stored.map((m) => m.content)).size).toBe(500);
  });

  it('should hold a reply streamed while the client was away, complete, once it is back', async () => {
    const { room, network, a, b } = await twoClientsInRoom('always');
    const release = gate();
    t.fake.script({
      kind: 'gate',
      chunks: ['The first part', ', the second', ' and the end.'],
      release: release.release,
    });

    a.send(room.id, 'tell me');
    const streaming = () => b.room(room.id).messages.find((m) => m.role === 'assistant');
    await until(b, 'room', () => streaming()?.content === 'The first part', 'bob sees the reply start');
    network.block();
    await until(b, 'status', () => b.status === 'disconnected', 'bob is away');
    release.open();
    const done = () => a.room(room.id).messages.find((m) => m.role === 'assistant')?.status === 'complete';
    await until(a, 'room', done, 'the reply ends while bob is away');
    expect(streaming()).toMatchObject({ status: 'streaming', content: 'The first part' });
    network.unblock();

    await until(b, 'room', () => streaming()?.status === 'complete', 'bob holds the final reply');
    expect(streaming()?.content).toBe('The first part, the second and the end.');
    expect(seqsOf(b, room.id)).toEqual([1, 2]);
  });

  it('should deliver every message queued offline exactly once after a restart with the same storage', async () => {
    const alice = await signUp(t.url, 'alice');
    const room = await createAiRoom(alice, { mode: 'off' });
    const storage = memoryStorage();
    const network = await proxy();
    network.block();
    const offline = client(network.url, alice, storage);
    const texts = range(5).map((i) => `offline ${uniqueTag()} ${i}`);
    texts.forEach((text) => offline.send(room.id, text));
    await offline.outboxPersisted();
    offline.close(); // the app is killed

    const restarted = client(t.url, alice, storage);
    await restarted.joinRoom(room.id);
    await until(restarted, 'change', () => restarted.outbox.length === 0, 'the restored outbox is sent');
    await until(restarted, 'room', () => restarted.room(room.id).lastSeq === 5, 'the room holds them');

    expect(restarted.room(room.id).messages.map((m) => m.content)).toEqual(texts);
    expect((await storedMessages(alice, room.id)).map((m) => m.content)).toEqual(texts);
    expect(await storage.getItem('chat-sdk:outbox')).toBeNull();
  });

  it("should show the other client's edit, delete and reactions live, its own reactions as mine", async () => {
    const { alice, room, a, b } = await twoClientsInRoom('off');
    const [first, second] = [await postMessage(alice, room.id, 'helo'), await postMessage(alice, room.id, 'oops')];
    const held = (id: string) => b.room(room.id).messages.find((m) => m.id === id);
    await until(b, 'room', () => held(second.id) !== undefined, 'bob holds both');

    const edited = await a.editMessage(room.id, first.id, 'hello');
    const tombstone = await a.deleteMessage(room.id, second.id);
    await a.addReaction(room.id, first.id, '👍');
    await b.addReaction(room.id, first.id, '👍');
    await b.addReaction(room.id, first.id, '🎉');
    await b.removeReaction(room.id, first.id, '🎉');

    const counted = () => held(first.id)?.reactions?.['👍'] === 2 && held(first.id)?.reactions?.['🎉'] === undefined;
    await until(b, 'room', counted, 'bob holds both 👍 and no 🎉');
    await until(a, 'room', () => a.room(room.id).lastRev === b.room(room.id).lastRev, 'alice holds the same revs');
    expect(held(first.id)).toMatchObject({ content: 'hello', editedAt: edited.editedAt, reactions: { '👍': 2 } });
    expect(held(second.id)).toEqual(tombstone);
    expect(tombstone).toMatchObject({ content: '', deletedAt: expect.any(String), deletedBy: alice.id });
    expect([...b.room(room.id).myReactions(first.id)]).toEqual(['👍']);
    expect([...a.room(room.id).myReactions(first.id)]).toEqual(['👍']);
    expect(a.room(room.id).messages).toEqual(b.room(room.id).messages);
    const refused = await b.editMessage(room.id, first.id, 'not mine').catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ChatError);
    expect(refused).toMatchObject({ code: 'FORBIDDEN' });
  });

  it('should bring a client that was away up to what a full reload holds, through afterRev', async () => {
    const { bob, room, network, a, b } = await twoClientsInRoom('off');
    const tag = uniqueTag();
    for (let i = 1; i <= 4; i++) {
      a.send(room.id, `${tag} before ${i}`);
    }
    await until(b, 'room', () => b.room(room.id).lastSeq === 4, 'bob holds the first four');
    const joins: unknown[] = [];
    b.socket.onAnyOutgoing((event, payload) => event === 'room:join' && joins.push(payload));
    network.block();
    await until(b, 'status', () => b.status === 'disconnected', 'bob is away');

    // While bob is away: new messages, edits of one he holds and one he does not, deletes, reactions.
    const [one, two, three] = a.room(room.id).messages;
    for (let i = 1; i <= 3; i++) {
      a.send(room.id, `${tag} away ${i}`);
    }
    await until(a, 'change', () => a.outbox.length === 0, 'alice sent while bob was away');
    const awayOne = a.room(room.id).messages[4];
    await a.editMessage(room.id, one.id, `${tag} before 1, edited`);
    await a.editMessage(room.id, awayOne.id, `${tag} away 1, edited`);
    await a.deleteMessage(room.id, two.id);
    await a.addReaction(room.id, three.id, '❤️');
    await a.addReaction(room.id, awayOne.id, '😂');
    await a.addReaction(room.id, three.id, '🎉');
    await a.removeReaction(room.id, three.id, '🎉');
    const lastRev = a.room(room.id).lastRev;
    network.unblock();

    await until(b, 'room', () => b.room(room.id).lastRev === lastRev, 'bob holds every change');
    expect(joins).toEqual([{ roomId: room.id, limit: 100, afterRev: expect.any(Number) }]);
    const reload = client(t.url, bob);
    await reload.joinRoom(room.id);
    const held = b.room(room.id).messages;
    expect(held).toEqual(reload.room(room.id).messages);
    expect(held).toEqual(await storedMessages(bob, room.id));
    expect(held.map((m) => [m.content, m.reactions])).toEqual([
      [`${tag} before 1, edited`, undefined],
      ['', undefined],
      [`${tag} before 3`, { '❤️': 1 }],
      [`${tag} before 4`, undefined],
      [`${tag} away 1, edited`, { '😂': 1 }],
      [`${tag} away 2`, undefined],
      [`${tag} away 3`, undefined],
    ]);
    expect(new Set(held.map((m) => m.id)).size).toBe(7);
  });

  it("should bring a regenerated answer to the other client live as version 2, and an edit's rerun after a resume", async () => {
    const { alice, room, network, a, b } = await twoClientsInRoom('always');
    t.fake.script({ kind: 'stream', chunks: ['First ', 'answer'] });
    const question = await postMessage(alice, room.id, 'What is a rev?');
    const versions = (sdk: ChatClient) =>
      sdk
        .room(room.id)
        .versionsOf(question.id)
        .map((m) => [m.version, m.status, m.content]);
    const answered = (sdk: ChatClient, n: number) => () =>
      versions(sdk).length === n && versions(sdk).every(([, status]) => status === 'complete');
    await until(b, 'room', answered(b, 1), 'bob holds the first answer');

    t.fake.script({ kind: 'stream', chunks: ['Second ', 'answer'] });
    const [first] = b.room(room.id).versionsOf(question.id);
    expect(await b.regenerate(room.id, first.id)).toEqual({ questionId: question.id, queued: true });
    await until(a, 'room', answered(a, 2), 'alice holds the second answer');
    await until(b, 'room', answered(b, 2), 'bob holds the second answer');
    expect(versions(a)).toEqual([
      [1, 'complete', 'First answer'],
      [2, 'complete', 'Second answer'],
    ]);
    expect(versions(b)).toEqual(versions(a));

    network.block();
    await until(b, 'status', () => b.status === 'disconnected', 'bob is away');
    t.fake.script({ kind: 'stream', chunks: ['Third ', 'answer'] });
    const edited = await a.editMessage(room.id, question.id, 'What is a rev, exactly?', { rerun: true });
    expect(edited).toMatchObject({ rerun: true, message: { content: 'What is a rev, exactly?' } });
    await until(a, 'room', answered(a, 3), 'alice holds the third answer');
    network.unblock();

    await until(b, 'room', answered(b, 3), 'bob holds the third answer after his resume');
    expect(versions(b)).toEqual([
      [1, 'complete', 'First answer'],
      [2, 'complete', 'Second answer'],
      [3, 'complete', 'Third answer'],
    ]);
    expect(b.room(room.id).messages).toEqual(a.room(room.id).messages);
    expect(b.room(room.id).messages[0].content).toBe('What is a rev, exactly?');
    const reload = client(t.url, alice);
    await reload.joinRoom(room.id);
    expect(versions(reload)).toEqual(versions(b));
  });

  it('should know its own reactions after a fresh join and after a time away, not those of others', async () => {
    const { alice, bob, room, network, a, b } = await twoClientsInRoom('off');
    const target = await postMessage(alice, room.id, 'react to me');
    const mine = (sdk: ChatClient) => [...sdk.room(room.id).myReactions(target.id)];
    await until(b, 'room', () => b.room(room.id).lastSeq === 1, 'bob holds the message');
    await b.addReaction(room.id, target.id, '👍');
    await b.addReaction(room.id, target.id, '❤️');
    await b.removeReaction(room.id, target.id, '❤️');
    await a.addReaction(room.id, target.id, '😂');

    const [bobAgain, aliceAgain] = [client(t.url, bob), client(t.url, alice)];
    await Promise.all([bobAgain.joinRoom(room.id), aliceAgain.joinRoom(room.id)]);
    expect(mine(bobAgain)).toEqual(['👍']);
    expect(mine(aliceAgain)).toEqual(['😂']);
    expect(bobAgain.room(room.id).messages[0].reactions).toEqual({ '👍': 1, '😂': 1 });

    // Bob's first client is away while his other device reacts and takes one back.
    network.block();
    await until(b, 'status', () => b.status === 'disconnected', 'bob is away');
    await bobAgain.addReaction(room.id, target.id, '🎉');
    const { rev: lastRev = 0 } = await bobAgain.removeReaction(room.id, target.id, '👍');
    network.unblock();

    await until(b, 'room', () => b.room(room.id).lastRev >= lastRev, 'bob holds every change');
    expect(mine(b)).toEqual(['🎉']);
    expect(mine(a)).toEqual(['😂']);
    expect(b.room(room.id).messages[0].reactions).toEqual({ '😂': 1, '🎉': 1 });
  });

  it("should read the server's limits and report another's message once, refusing one's own as CONFLICT", async () => {
    const { alice, room, a, b } = await twoClientsInRoom('off');
    const [theirs, own] = [await postMessage(alice, room.id, 'buy now'), await postMessage(alice, room.id, 'mine')];

    expect(await b.limits()).toEqual({ messageMaxLength: 4000, editWindowSeconds: 900, reactionMaxLength: 32 });
    const report = await b.reportMessage(theirs.id, '  spam  ');
    expect(report).toMatchObject({ roomId: room.id, messageId: theirs.id, reason: 'spam', status: 'open' });
    expect(await b.reportMessage(theirs.id, 'spam again')).toEqual(report);
    const refused = await a.reportMessage(own.id, 'mine').catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ChatError);
    expect(refused).toMatchObject({ code: 'CONFLICT', message: expect.not.stringMatching(/^HTTP /) });
  });

  it("should show a blocked person's messages as placeholders, held ones too, on every device, until unblocked", async () => {
    const { alice, bob, room, a, b } = await twoClientsInRoom('off');
    const phone = client(t.url, alice); // Alice's second device
    await phone.joinRoom(room.id);
    await postMessage(bob, room.id, 'bob one');
    await postMessage(alice, room.id, 'alice one');
    const shown = (sdk: ChatClient) => sdk.room(room.id).messages.map((m) => m.content || `(${m.withheld})`);
    const shows = (sdk: ChatClient, expected: string[], label: string) =>
      until(sdk, 'room', () => JSON.stringify(shown(sdk)) === JSON.stringify(expected), label);
    await Promise.all([a, phone].map((sdk) => shows(sdk, ['bob one', 'alice one'], 'both messages')));
    const followed = new Promise((resolve) => phone.on('block:updated', resolve));

    expect(await a.block(bob.id)).toEqual({ profileId: bob.id, blocked: true });
    expect(await a.block(bob.id)).toEqual({ profileId: bob.id, blocked: true }); // again: the same

    expect(await within(followed, 'block:updated on the other device')).toEqual({ profileId: bob.id, blocked: true });
    await Promise.all([a, phone].map((sdk) => shows(sdk, ['(blocked)', 'alice one'], 'the held one withheld')));
    await postMessage(bob, room.id, 'bob two');
    await Promise.all([a, phone].map((sdk) => shows(sdk, ['(blocked)', 'alice one', '(blocked)'], 'the new one')));
    expect(seqsOf(a, room.id)).toEqual([1, 2, 3]);
    expect(a.room(room.id).messages[2]).toMatchObject({ senderId: bob.id, content: '', withheld: 'blocked' });
    expect([a.isBlocked(bob.id), phone.isBlocked(bob.id)]).toEqual([true, true]);
    expect((await a.blocks()).map((block) => block.profile.id)).toEqual([bob.id]);
    await shows(b, ['bob one', 'alice one', 'bob two'], "Bob's own, as they are");
    // The person blocked cannot add the blocker to a room.
    const bobsRoom = await createAiRoom(bob, { mode: 'off' });
    const added = await bob.http.post(`/api/rooms/${bobsRoom.id}/members`, { username: alice.username });
    expect([added.status, added.body.code]).toEqual([403, 'FORBIDDEN']);

    expect(await a.unblock(bob.id)).toEqual({ profileId: bob.id, blocked: false });

    const restored = ['bob one', 'alice one', 'bob two'];
    await Promise.all([a, phone].map((sdk) => shows(sdk, restored, 'the messages back')));
    expect(await a.blocks()).toEqual([]);
    expect(phone.isBlocked(bob.id)).toBe(false);
  });
});
