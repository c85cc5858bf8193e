import { postMessage } from '../support/chat-api';
import { eventually } from '../support/eventually';
import { startFakeExpo, type FakeExpo } from '../support/fake-expo';
import { startFakeOpenAi, type FakeOpenAi } from '../support/fake-openai';
import { signUp, type TestUser } from '../support/http-client';
import { dbCallCount } from '../support/metrics';
import { deviceTokens, pushCount, registerDevice } from '../support/push-helpers';
import { addToRoom, createRoom } from '../support/rooms-helpers';
import { ack } from '../support/socket-client';
import { useTestApp } from '../support/test-app';

const DELAY_MS = 1000;
const ACCESS_TOKEN = 'expo-access-token-for-the-test';

/** The app's push settings against the fake Expo service at `expoUrl`. */
const pushEnv = (expoUrl: string): Record<string, string> => ({
  PUSH_EXPO_URL: expoUrl,
  EXPO_ACCESS_TOKEN: ACCESS_TOKEN,
  PUSH_DELAY_MS: String(DELAY_MS),
  PUSH_ROOM_INTERVAL_MS: '1000',
  PUSH_MAX_PER_MINUTE: '3',
  PUSH_MAX_ATTEMPTS: '3',
  PUSH_RETRY_BASE_MS: '50',
  PUSH_RECEIPT_DELAY_MS: '200',
});

/** A room of `owner` (AI off unless `ai` says otherwise) with `members` in it. */
async function roomWith(owner: TestUser, members: TestUser[], name = 'Lobby', ai?: object): Promise<string> {
  const room = await createRoom(owner, ai ? { name, ai } : { name });
  for (const member of members) {
    await addToRoom(owner, room.id, member);
  }
  return room.id;
}

describe('Push notifications', () => {
  let fake: FakeExpo;
  beforeAll(async () => {
    fake = await startFakeExpo();
  });
  afterAll(() => fake.close());
  const t = useTestApp(() => pushEnv(fake.url));

  it('should leave sends unaffected while the push service is down, and try a push a bounded number of times', async () => {
    const sender = await signUp(t.url, 'snd');
    const away = await signUp(t.url, 'away');
    const token = await registerDevice(away);
    const roomId = await roomWith(sender, [away]);
    const requestsBefore = fake.sendRequests.length;
    const failedBefore = await pushCount(t.urls, 'failed');
    fake.setDown(true);
    try {
      const socket = await t.sockets.open(sender);
      const acked = await ack(socket, 'message:send', { roomId, content: 'while it is down', clientId: 'down-1' });
      expect(acked).toMatchObject({ ok: true, message: { seq: 1 } });

      await eventually(async () => (await pushCount(t.urls, 'failed')) > failedBefore, 'the push counted failed');
      expect(fake.sendRequests.length - requestsBefore).toBe(3);
      expect(fake.pushesTo(token)).toEqual([]);
    } finally {
      fake.setDown(false);
    }
  });

  it('should push once to each device of a member with no socket, with the room, the sender and a preview', async () => {
    const sender = await signUp(t.url, 'snd', 'Ada Lovelace');
    const away = await signUp(t.url, 'away');
    const phone = await registerDevice(away, 'ios');
    const tablet = await registerDevice(away, 'android');
    const roomId = await roomWith(sender, [away], 'Engine room');
    const content = `The analytical engine weaves algebraic patterns ${'just as the Jacquard loom weaves flowers. '.repeat(5)}`;

    const message = await postMessage(sender, roomId, content);

    const push = await fake.nthPushTo(phone, 1);
    expect(push).toMatchObject({
      title: 'Engine room · Ada Lovelace',
      body: [...content].slice(0, 140).join(''),
      data: { roomId, seq: 1, messageId: message.id },
      collapseId: `room-${roomId}`,
      tag: `room-${roomId}`,
    });
    expect(await fake.nthPushTo(tablet, 1)).toMatchObject({ data: { roomId, seq: 1 } });
    expect(fake.sendRequests.at(-1)?.authorization).toBe(`Bearer ${ACCESS_TOKEN}`);

    // A message in another room comes next, and nothing else came before it.
    const otherRoom = await roomWith(sender, [away], 'Other');
    await postMessage(sender, otherRoom, 'next');
    await fake.nthPushTo(phone, 2);
    expect(fake.pushesTo(phone).map((p) => p.data)).toEqual([
      { roomId, seq: 1, messageId: message.id },
      { roomId: otherRoom, seq: 1, messageId: expect.any(String) },
    ]);
  });

  it('should ask who may get a push only once another member has a device (the group commit tells)', async () => {
    const sender = await signUp(t.url, 'snd');
    const member = await signUp(t.url, 'member');
    const roomId = await roomWith(sender, [member]);
    const asked = () => dbCallCount(t.urls, 'push_targets');
    const before = await asked();

    for (const content of ['one', 'two', 'three']) {
      await postMessage(sender, roomId, content);
    }
    const token = await registerDevice(member);
    await postMessage(sender, roomId, 'four');

    // The fourth's push is the end of its decision; the first three's decisions (if any) came before it.
    expect(await fake.nthPushTo(token, 1)).toMatchObject({ data: { roomId, seq: 4 } });
    // Through PostgREST a send is a call alone, which says nothing of devices: every message is asked about.
    const grouped = t.config.database.driver !== 'supabase';
    expect((await asked()) - before).toBe(grouped ? 1 : 4);
  });

  it('should not push to a member whose socket is in the room, and push after PUSH_DELAY_MS to one connected elsewhere', async () => {
    const sender = await signUp(t.url, 'snd');
    const online = await signUp(t.url, 'online');
    const elsewhere = await signUp(t.url, 'elsewhere');
    const away = await signUp(t.url, 'away');
    const [onlineToken, elsewhereToken, awayToken] = await Promise.all(
      [online, elsewhere, away].map((user) => registerDevice(user)),
    );
    const roomId = await roomWith(sender, [online, elsewhere, away]);
    await t.sockets.joined(online, roomId);
    await t.sockets.open(elsewhere);

    const sentAt = Date.now();
    await postMessage(sender, roomId, 'who is around?');

    await fake.nthPushTo(awayToken, 1);
    expect(fake.pushesTo(elsewhereToken)).toEqual([]);
    const delayed = await fake.nthPushTo(elsewhereToken, 1);
    expect(Date.now() - sentAt).toBeGreaterThanOrEqual(DELAY_MS);
    expect(delayed.data).toMatchObject({ roomId, seq: 1 });
    expect(fake.pushesTo(onlineToken)).toEqual([]);
  });

  it('should not push to a connected member who read the message before PUSH_DELAY_MS, nor to one who muted the room', async () => {
    const sender = await signUp(t.url, 'snd');
    const reader = await signUp(t.url, 'reader');
    const muter = await signUp(t.url, 'muter');
    const witness = await signUp(t.url, 'witness');
    const [readerToken, muterToken, witnessToken] = await Promise.all(
      [reader, muter, witness].map((user) => registerDevice(user)),
    );
    const roomId = await roomWith(sender, [reader, muter, witness]);
    const muted = await muter.http.patch(`/api/rooms/${roomId}/membership`, { muted: true });
    expect(muted.status).toBe(200);
    await t.sockets.open(reader);
    await t.sockets.open(witness);

    const message = await postMessage(sender, roomId, 'read me');
    const read = await reader.http.request('PUT', `/api/rooms/${roomId}/read`, { seq: message.seq });
    expect(read.status).toBe(200);

    // The witness, connected and not in the room either, gets it after the delay: the decision has been made.
    await fake.nthPushTo(witnessToken, 1);
    expect(fake.pushesTo(readerToken)).toEqual([]);
    expect(fake.pushesTo(muterToken)).toEqual([]);
  });

  it('should push an assistant reply once it ends, to the asker only', async () => {
    const asker = await signUp(t.url, 'asker');
    const other = await signUp(t.url, 'other');
    const [askerToken, otherToken] = await Promise.all([registerDevice(asker), registerDevice(other)]);
    const roomId = await roomWith(asker, [other], 'Questions', { mode: 'always' });

    await postMessage(asker, roomId, 'what is 6 x 7?');

    // No AI provider is configured here: the reply ends `failed` at once.
    const reply = await fake.nthPushTo(askerToken, 1);
    expect(reply).toMatchObject({ title: 'Questions · Assistant', data: { roomId, seq: 2 } });
    // With several instances the reply's push may come from another instance than the question's, and first.
    await fake.nthPushTo(otherToken, 1);
    expect(fake.pushesTo(otherToken).map((p) => p.data?.seq)).toEqual([1]);
  });

  it('should fold the messages of a room within PUSH_ROOM_INTERVAL_MS into one push of the latest', async () => {
    const sender = await signUp(t.url, 'snd');
    const away = await signUp(t.url, 'away');
    const token = await registerDevice(away);
    const roomId = await roomWith(sender, [away]);

    await postMessage(sender, roomId, 'first');
    await fake.nthPushTo(token, 1);
    for (const content of ['second', 'third', 'fourth']) {
      await postMessage(sender, roomId, content);
    }

    const folded = await fake.nthPushTo(token, 2);
    expect(folded).toMatchObject({ body: 'fourth', data: { roomId, seq: 4 } });
    expect(fake.pushesTo(token).map((p) => p.data?.seq)).toEqual([1, 4]);
  });

  it('should push at most PUSH_MAX_PER_MINUTE times a minute to a member, all rooms together', async () => {
    const sender = await signUp(t.url, 'snd');
    const away = await signUp(t.url, 'away');
    const token = await registerDevice(away);
    const rooms = [];
    for (const name of ['one', 'two', 'three', 'four']) {
      rooms.push(await roomWith(sender, [away], name));
    }
    const foldedBefore = await pushCount(t.urls, 'folded');

    for (const roomId of rooms) {
      await postMessage(sender, roomId, 'busy day');
    }

    await fake.nthPushTo(token, 3);
    await eventually(async () => (await pushCount(t.urls, 'folded')) > foldedBefore, 'the fourth push folded');
    expect(fake.pushesTo(token)).toHaveLength(3);
  });

  it('should not push a message to a member who blocked its sender, and push it to the others', async () => {
    const sender = await signUp(t.url, 'snd');
    const blocker = await signUp(t.url, 'blocker');
    const witness = await signUp(t.url, 'witness');
    const [blockerToken, witnessToken] = await Promise.all([registerDevice(blocker), registerDevice(witness)]);
    const roomId = await roomWith(sender, [blocker, witness]);
    const blocked = await blocker.http.post(`/api/profiles/${sender.id}/block`, {});
    expect(blocked.status).toBe(200);

    await postMessage(sender, roomId, 'from someone blocked');
    expect((await fake.nthPushTo(witnessToken, 1)).data).toMatchObject({ roomId, seq: 1 });
    // The next message of the room reaches the blocker at once (a push for the first would have held it back
    // PUSH_ROOM_INTERVAL_MS, to come after it): theirs is the only push.
    await postMessage(witness, roomId, 'from the witness');
    const next = await fake.nthPushTo(blockerToken, 1);
    expect(next).toMatchObject({ body: 'from the witness', data: { roomId, seq: 2 } });
    expect(fake.pushesTo(blockerToken)).toHaveLength(1);
  });

  it('should remove a device whose ticket says DeviceNotRegistered', async () => {
    const sender = await signUp(t.url, 'snd');
    const away = await signUp(t.url, 'away');
    const gone = await registerDevice(away, 'ios');
    const kept = await registerDevice(away, 'android');
    fake.unregister(gone, 'ticket');
    const roomId = await roomWith(sender, [away]);

    await postMessage(sender, roomId, 'anyone?');

    await fake.nthPushTo(gone, 1);
    await eventually(async () => !(await deviceTokens(away)).includes(gone), 'the device removed');
    expect(await deviceTokens(away)).toEqual([kept]);
  });

  it('should remove a device whose receipt says DeviceNotRegistered', async () => {
    const sender = await signUp(t.url, 'snd');
    const away = await signUp(t.url, 'away');
    const token = await registerDevice(away);
    fake.unregister(token, 'receipt');
    const roomId = await roomWith(sender, [away]);

    await postMessage(sender, roomId, 'still there?');

    await fake.nthPushTo(token, 1);
    await eventually(async () => (await deviceTokens(away)).length === 0, 'the device removed after its receipt');
    expect(fake.receiptRequests.flat().length).toBeGreaterThan(0);
  });
});

describe('Push notifications of withheld messages (MODERATION=openai, MODERATION_MODE=pre)', () => {
  let expo: FakeExpo;
  let openAi: FakeOpenAi;
  beforeAll(async () => {
    [expo, openAi] = await Promise.all([startFakeExpo(), startFakeOpenAi()]);
  });
  afterAll(() => Promise.all([expo.close(), openAi.close()]));
  const t = useTestApp(() => ({
    ...pushEnv(expo.url),
    OPENAI_API_KEY: 'test-key',
    OPENAI_BASE_URL: openAi.url,
    MODERATION: 'openai',
    MODERATION_MODE: 'pre',
  }));

  it('should push a message stored withheld to nobody, not even the room owner who may read it', async () => {
    const owner = await signUp(t.url, 'owner');
    const author = await signUp(t.url, 'author');
    const member = await signUp(t.url, 'member');
    const [ownerToken, memberToken] = await Promise.all([registerDevice(owner), registerDevice(member)]);
    const roomId = await roomWith(owner, [author, member]);

    const withheld = await postMessage(author, roomId, 'FLAGME you fool');
    expect(withheld).toMatchObject({ seq: 1, withheld: 'flagged' });
    // The next message pushes at once to each (a push of the first would have come before it, and held it back).
    await postMessage(author, roomId, 'kind words');
    for (const token of [ownerToken, memberToken]) {
      expect(await expo.nthPushTo(token, 1)).toMatchObject({ body: 'kind words', data: { roomId, seq: 2 } });
    }
    expect([...expo.pushesTo(ownerToken), ...expo.pushesTo(memberToken)]).toHaveLength(2);
    expect(JSON.stringify(expo.pushes)).not.toContain('FLAGME');
  });
});
