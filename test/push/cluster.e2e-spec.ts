/**
 * Push notifications with several instances: the instance that stores a message asks every instance's presence (in
 * Redis) whether a member has a socket in the room, and the per-member counts are shared.
 */
import type { Socket } from 'socket.io-client';
import { postMessage } from '../support/chat-api';
import { startCluster, type Cluster } from '../support/cluster';
import { startFakeExpo, type FakeExpo } from '../support/fake-expo';
import { signUp } from '../support/http-client';
import { registerDevice } from '../support/push-helpers';
import { addToRoom, createRoom } from '../support/rooms-helpers';
import { connectSocket, joinRoom, nextEvent } from '../support/socket-client';

describe('Push notifications across instances (REDIS_URL)', () => {
  let fake: FakeExpo;
  let cluster: Cluster;
  const sockets: Socket[] = [];
  beforeAll(async () => {
    fake = await startFakeExpo();
    // No EXPO_ACCESS_TOKEN: Expo accepts pushes without one.
    cluster = await startCluster({ env: { PUSH_EXPO_URL: fake.url, PUSH_DELAY_MS: '500' } });
  });
  afterEach(() => {
    sockets.splice(0).forEach((socket) => socket.close());
  });
  afterAll(async () => {
    await cluster?.close();
    await fake?.close();
  });

  it('should not push to a member whose socket in the room is on another instance than the one that stored the message', async () => {
    const [first, second] = cluster.urls;
    const sender = await signUp(first, 'snd');
    const reader = await signUp(second, 'reader');
    const away = await signUp(first, 'away');
    const elsewhere = await signUp(second, 'elsewhere');
    const [readerToken, awayToken, elsewhereToken] = await Promise.all(
      [reader, away, elsewhere].map((user) => registerDevice(user)),
    );
    const room = await createRoom(sender, { name: 'Spread' });
    for (const member of [reader, away, elsewhere]) {
      await addToRoom(sender, room.id, member);
    }
    const senderSocket = await connectSocket(first, sender.token);
    sockets.push(senderSocket);
    await joinRoom(senderSocket, room.id);
    const readerOnline = nextEvent(senderSocket, 'presence', (p) => p.profileId === reader.id && p.online);
    const readerSocket = await connectSocket(second, reader.token);
    sockets.push(readerSocket, await connectSocket(second, elsewhere.token));
    await joinRoom(readerSocket, room.id);
    await readerOnline;

    await postMessage(sender, room.id, 'stored on the first instance');

    expect((await fake.nthPushTo(awayToken, 1)).data).toMatchObject({ roomId: room.id, seq: 1 });
    // The member connected on the second instance but outside the room gets it after the delay: by then the decision
    // for every member has been made.
    expect((await fake.nthPushTo(elsewhereToken, 1)).data).toMatchObject({ roomId: room.id, seq: 1 });
    expect(fake.pushesTo(readerToken)).toEqual([]);
    expect(fake.sendRequests.every((request) => request.authorization === undefined)).toBe(true);
  });
});
