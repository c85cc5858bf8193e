/**
 * Several instances are one chat (DESIGN.md §7): separate app processes sharing one PostgreSQL database and
 * one Redis, sockets spread over them, instances killed with SIGKILL mid-work.
 */
import type { Socket } from 'socket.io-client';
import { startCluster, type Cluster } from '../support/cluster';
import { eventually } from '../support/eventually';
import { HttpClient, signUp, type TestUser } from '../support/http-client';
import { addMembers, createRoom, range, seqs, storedMessages } from '../support/realtime-helpers';
import { ack, collect, connectSocket, joinRoom, nextEvent, settle } from '../support/socket-client';

/** The same user, signed in against another instance (the token is good on every instance). */
function on(user: TestUser, url: string): TestUser {
  return { ...user, http: new HttpClient(url, user.token) };
}

describe('several instances (REDIS_URL)', () => {
  const sockets: Socket[] = [];
  const open = async (url: string, user: TestUser): Promise<Socket> => {
    const socket = await connectSocket(url, user.token);
    sockets.push(socket);
    return socket;
  };
  afterEach(() => {
    sockets.splice(0).forEach((s) => s.close());
  });

  describe('fan-out and order', () => {
    let cluster: Cluster;
    beforeAll(async () => {
      cluster = await startCluster({ instances: 3 });
    });
    afterAll(async () => {
      await cluster?.close();
    });

    it('should give members on every instance every message of their rooms once, in seq order, under concurrent sends', async () => {
      const [a, b, c] = cluster.urls;
      const owner = await signUp(a, 'own');
      const senders = await Promise.all([signUp(a, 'sa'), signUp(b, 'sb'), signUp(c, 'sc')]);
      const rooms = await Promise.all([1, 2, 3].map(() => createRoom(owner)));
      for (const room of rooms) {
        await addMembers(owner, room.id, ...senders);
      }
      // One reader per instance per room, plus the senders' own sockets on their instances.
      const readers = await Promise.all(cluster.urls.map((url) => open(url, owner)));
      const received = readers.map((socket) =>
        collect<{ message: { roomId: string; seq: number } }>(socket, 'message:new'),
      );
      for (const socket of readers) {
        for (const room of rooms) {
          await joinRoom(socket, room.id);
        }
      }
      const senderSockets = await Promise.all(senders.map((user, i) => open(cluster.urls[i], user)));
      const perSender = 40;
      await Promise.all(
        senderSockets.flatMap((socket, i) =>
          rooms.map(async (room) => {
            for (let n = 0; n < perSender; n += 1) {
              const res = await ack(socket, 'message:send', {
                roomId: room.id,
                content: `s${i}-${n}`,
                clientId: `${i}-${room.id}-${n}`,
              });
              expect(res.ok).toBe(true);
            }
          }),
        ),
      );
      const total = perSender * senders.length;
      for (const [i, events] of received.entries()) {
        await eventually(() => events.length >= total * rooms.length, `reader ${i} got every message`, 15_000);
        await settle(readers[i]);
        for (const room of rooms) {
          const inRoom = events.filter((e) => e.message.roomId === room.id).map((e) => e.message.seq);
          expect(inRoom).toEqual(range(1, total));
        }
      }
    });

    it('should deliver the messages an instance stored before it was killed, so no client has a gap', async () => {
      const victimUrl = (await cluster.addInstance()).url;
      const [a, b] = cluster.urls;
      const owner = await signUp(a, 'own');
      const sender = await signUp(b, 'snd');
      const room = await createRoom(owner);
      await addMembers(owner, room.id, sender);
      const readers = [await open(a, owner), await open(b, owner)];
      const received = readers.map((socket) => collect<{ message: { seq: number } }>(socket, 'message:new'));
      for (const socket of readers) {
        await joinRoom(socket, room.id);
      }
      // The victim stores messages as fast as it can while another instance sends too; then it dies mid-load.
      const victim = cluster.instances.find((i) => i.url === victimUrl)!;
      const victimSocket = await open(victimUrl, sender);
      const steady = await open(a, sender);
      let stop = false;
      const victimLoad = (async () => {
        for (let n = 0; !stop; n += 1) {
          victimSocket.emit('message:send', { roomId: room.id, content: `v${n}`, clientId: `v-${n}` });
          await new Promise((resolve) => setImmediate(resolve));
          if (n > 2000) {
            break;
          }
        }
      })();
      await eventually(() => received[0].length >= 20, 'the victim stored some messages');
      await victim.kill();
      stop = true;
      await victimLoad;
      // Another instance sends after the kill: a receiver that missed the victim's last messages repairs its gap.
      for (let n = 0; n < 5; n += 1) {
        expect(
          (await ack(steady, 'message:send', { roomId: room.id, content: `after ${n}`, clientId: `after-${n}` })).ok,
        ).toBe(true);
      }
      const stored = await storedMessages(owner, room.id);
      for (const [i, events] of received.entries()) {
        await eventually(() => events.length >= stored.length, `reader ${i} got every stored message`);
        await settle(readers[i]);
        expect(seqs(events.map((e) => e.message))).toEqual(range(1, stored.length));
      }
    });
  });

  describe('presence, typing and limits', () => {
    let cluster: Cluster;
    beforeAll(async () => {
      cluster = await startCluster({ instances: 2, env: { RATE_SEND_PER_10S: '10' } });
    });
    afterAll(async () => {
      await cluster?.close();
    });

    it('should show a member online on one instance as online from another, and typing from one on the other', async () => {
      const [a, b] = cluster.urls;
      const owner = await signUp(a, 'own');
      const member = await signUp(a, 'mem');
      const room = await createRoom(owner);
      await addMembers(owner, room.id, member);
      const watcher = await open(b, owner);
      await joinRoom(watcher, room.id);
      const online = nextEvent(watcher, 'presence', (p) => p.profileId === member.id && p.online === true);
      const memberSocket = await open(a, member);
      const joined = await joinRoom(memberSocket, room.id);
      expect(joined.online).toEqual(expect.arrayContaining([owner.id, member.id]));
      await online;
      const late = await open(b, owner);
      expect((await joinRoom(late, room.id)).online).toEqual(expect.arrayContaining([owner.id, member.id]));

      const typing = nextEvent(watcher, 'typing', (t) => t.profileId === member.id && t.isTyping === true);
      expect((await ack(memberSocket, 'typing:update', { roomId: room.id, isTyping: true })).ok).toBe(true);
      await typing;
      const typingEnds = nextEvent(watcher, 'typing', (t) => t.profileId === member.id && t.isTyping === false);
      const offline = nextEvent(watcher, 'presence', (p) => p.profileId === member.id && p.online === false);
      memberSocket.close();
      await Promise.all([typingEnds, offline]);
    });

    it('should count a user sending through two instances against one budget', async () => {
      const [a, b] = cluster.urls;
      const user = await signUp(a, 'rate');
      const room = await createRoom(user);
      const sockets2 = [await open(a, user), await open(b, user)];
      const answers: { ok: boolean; error?: { code: string } }[] = [];
      for (let n = 0; n < 12; n += 1) {
        answers.push(
          await ack(sockets2[n % 2], 'message:send', { roomId: room.id, content: `r${n}`, clientId: `r-${n}` }),
        );
      }
      expect(answers.map((x) => x.ok)).toEqual([...Array(10).fill(true), false, false]);
      expect(answers[10].error?.code).toBe('RATE_LIMITED');
    });

    it('should see a member of a killed instance go offline from another within the instance TTL', async () => {
      const doomed = await cluster.addInstance();
      const [a] = cluster.urls;
      const owner = await signUp(a, 'own');
      const member = await signUp(a, 'mem');
      const room = await createRoom(owner);
      await addMembers(owner, room.id, member);
      const watcher = await open(a, owner);
      await joinRoom(watcher, room.id);
      const memberSocket = await open(doomed.url, member);
      const typing = nextEvent(watcher, 'typing', (t) => t.profileId === member.id && t.isTyping);
      await joinRoom(memberSocket, room.id);
      await ack(memberSocket, 'typing:update', { roomId: room.id, isTyping: true });
      await typing;
      const offline = nextEvent(watcher, 'presence', (p) => p.profileId === member.id && p.online === false);
      const typingEnds = nextEvent(watcher, 'typing', (t) => t.profileId === member.id && !t.isTyping);
      const killedAt = Date.now();
      await doomed.kill();
      await Promise.all([offline, typingEnds]);
      // CLUSTER_INSTANCE_TTL_MS is 1500 in the test cluster, heartbeats every 200 ms.
      expect(Date.now() - killedAt).toBeLessThan(5000);
      expect((await joinRoom(await open(a, owner), room.id)).online).not.toContain(member.id);
    });
  });

  describe('a Redis outage', () => {
    let cluster: Cluster;
    beforeAll(async () => {
      cluster = await startCluster({ instances: 2 });
    });
    afterAll(async () => {
      await cluster?.close();
    });

    it('should keep every instance ready and serving, store every acked send, and resume fan-out with the missed tail', async () => {
      const [a, b] = cluster.urls;
      const owner = await signUp(a, 'own');
      const room = await createRoom(owner);
      const onA = await open(a, owner);
      const onB = await open(b, owner);
      const receivedOnB = collect<{ message: { seq: number } }>(onB, 'message:new');
      await joinRoom(onA, room.id);
      await joinRoom(onB, room.id);
      const acked: number[] = [];
      const send = async (n: number) => {
        const res = await ack(onA, 'message:send', { roomId: room.id, content: `o${n}`, clientId: `o-${n}` });
        if (res.ok) {
          acked.push(res.message.seq);
        }
      };
      for (let n = 0; n < 5; n += 1) {
        await send(n);
      }
      await cluster.redis.kill();
      // Degraded, not down: both instances stay in the load balancer and keep serving their own sockets.
      for (const url of cluster.urls) {
        await eventually(async () => {
          const res = await fetch(`${url}/health/ready`);
          const body = (await res.json()) as { info?: { redis?: { state?: string } } };
          return res.status === 200 && body.info?.redis?.state === 'degraded';
        }, `${url} reports redis degraded`);
      }
      for (let n = 5; n < 15; n += 1) {
        await send(n);
      }
      await cluster.redis.start();
      for (const url of cluster.urls) {
        await eventually(async () => {
          const body = (await (await fetch(`${url}/health/ready`)).json()) as {
            info?: { redis?: { state?: string } };
          };
          return body.info?.redis?.state === 'connected';
        }, `${url} reports redis connected`);
      }
      for (let n = 15; n < 20; n += 1) {
        await send(n);
      }
      // Every acked send is stored; B ends up with every message once, in order.
      const stored = seqs(await storedMessages(on(owner, b), room.id));
      expect(stored).toEqual(range(1, 20));
      expect(acked).toEqual(range(1, 20));
      await eventually(() => receivedOnB.length >= 20, 'B got the missed tail');
      await settle(onB);
      expect(seqs(receivedOnB.map((e) => e.message))).toEqual(range(1, 20));
    });
  });
});
