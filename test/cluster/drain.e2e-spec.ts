/**
 * A rolling update as Kubernetes runs it (README "Deploy"): two instances behind a load balancer that follows
 * readiness; one gets SIGTERM while clients send steadily and an AI reply streams from it.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { createAiRoom, gate } from '../support/ai-helpers';
import { startCluster, type Cluster } from '../support/cluster';
import { eventually } from '../support/eventually';
import { startFakeOpenAi, type FakeOpenAi } from '../support/fake-openai';
import { HttpClient, signUp, type TestUser } from '../support/http-client';
import { startLoadBalancer, type LoadBalancer } from '../support/load-balancer';
import { addMembers, createRoom, range, storedMessages } from '../support/realtime-helpers';
import { ResumingClient } from '../support/resuming-client';

const DRAIN_MS = 1500;
const TIMEOUT_MS = 8000;
const CLIENTS = 6;
/** Each client sends one message per this many ms while the load runs. */
const SEND_EVERY_MS = 60;

describe('drain on SIGTERM (two instances, Redis, PostgreSQL)', () => {
  let fake: FakeOpenAi;
  let cluster: Cluster;
  let balancer: LoadBalancer;
  const clients: ResumingClient[] = [];

  beforeAll(async () => {
    fake = await startFakeOpenAi();
    cluster = await startCluster({
      env: {
        OPENAI_API_KEY: 'test-key',
        OPENAI_BASE_URL: fake.url,
        SHUTDOWN_DRAIN_MS: String(DRAIN_MS),
        SHUTDOWN_TIMEOUT_MS: String(TIMEOUT_MS),
      },
    });
    balancer = await startLoadBalancer(cluster.urls);
    await balancer.checked;
  });

  afterAll(async () => {
    clients.forEach((client) => client.close());
    await balancer?.close();
    await cluster?.close();
    await fake?.close();
  });

  it('should turn readiness 503 before any socket drops, move every client to the other instance with nothing missed or twice, store every acked send, finish the reply in flight and exit 0', async () => {
    const [leaving, staying] = cluster.instances;
    const owner = await signUp(staying.url, 'drn');
    const members = await Promise.all(range(1, CLIENTS - 1).map(() => signUp(staying.url, 'drn')));
    const room = await createRoom(owner);
    await addMembers(owner, room.id, ...members);
    // The question is asked on the instance that will stop, so that its reply streams from there.
    const asker: TestUser = { ...owner, http: new HttpClient(leaving.url, owner.token) };
    const aiRoom = await createAiRoom(asker, { mode: 'always' });
    await addMembers(asker, aiRoom.id, ...members);

    for (const user of [owner, ...members]) {
      clients.push(await ResumingClient.open(balancer.url, user.token, [room.id, aiRoom.id]));
    }
    // The balancer spread them round robin: some are on the instance that will stop.
    const reply = gate();
    fake.script({ kind: 'gate', chunks: ['Half of it', ' and the rest.'], release: reply.release });
    const question = await asker.http.post(`/api/rooms/${aiRoom.id}/messages`, { content: 'explain', clientId: 'q-1' });
    expect(question.status).toBe(201);
    await eventually(
      () => leaving.process.lines.some((line) => line.msg === 'AI reply started'),
      'reply started on the leaving instance',
    );
    await eventually(
      () => clients.every((c) => c.rooms.get(aiRoom.id)?.get(2)?.content === 'Half of it'),
      'the first half streamed to every client',
    );

    let loadRunning = true;
    const load = clients.map(async (client, i) => {
      for (let n = 0; loadRunning; n += 1) {
        await client.send(room.id, `c${i}-${n}`, `c${i}-${n}`);
        await delay(SEND_EVERY_MS);
      }
    });
    await eventually(() => clients.every((c) => c.acked.size >= 5), 'load running');

    const signalledAt = Date.now();
    const exit = leaving.stop();
    await eventually(() => clients.some((c) => c.disconnects.length > 0), 'a socket dropped', DRAIN_MS + TIMEOUT_MS);
    const firstDrop = Math.min(...clients.flatMap((c) => c.disconnects.map((d) => d.at)));
    reply.open();

    const { code } = await exit;
    const exitedAfter = Date.now() - signalledAt;
    // Every client is back (on the other instance), the load goes on there a little, then stops.
    await Promise.all(clients.map((c) => c.whenReady()));
    const ackedBefore = clients.map((c) => c.acked.size);
    await eventually(
      () => clients.every((c, i) => c.acked.size >= ackedBefore[i] + 5),
      'load going on after the drain',
    );
    loadRunning = false;
    await Promise.all(load);

    expect(code).toBe(0);
    expect(exitedAfter).toBeLessThan(DRAIN_MS + TIMEOUT_MS);
    // The balancer saw readiness fail before the first socket dropped, and no socket dropped before the drain delay.
    expect(balancer.outSince.get(leaving.url)).toBeLessThan(firstDrop);
    expect(firstDrop - signalledAt).toBeGreaterThanOrEqual(DRAIN_MS);
    expect(balancer.outSince.has(staying.url)).toBe(false);
    const dropped = clients.filter((c) => c.disconnects.length > 0);
    expect(dropped.length).toBeGreaterThan(0);
    expect(dropped.length).toBeLessThan(CLIENTS);
    // The client sees a transport close, after which socket.io-client reconnects by itself.
    expect(new Set(dropped.flatMap((c) => c.disconnects.map((d) => d.reason)))).toEqual(new Set(['transport close']));

    const stored = await storedMessages(owner, room.id);
    const storedContents = stored.map((m) => m.content);
    expect(new Set(storedContents).size).toBe(storedContents.length);
    expect(stored.map((m) => m.seq)).toEqual(range(1, stored.length));
    const acked = clients.flatMap((c) => [...c.acked.keys()]);
    expect(clients.every((c) => c.refused.size === 0)).toBe(true);
    // Every OK-acked send is stored; every stored message was acked to its sender (the clients retried until it was).
    expect(new Set(storedContents)).toEqual(new Set(acked));
    for (const client of clients) {
      expect(client.liveDuplicates).toEqual([]);
      expect(client.seqs(room.id)).toEqual(range(1, stored.length));
    }
    // The reply in flight finished on the stopping instance within the budget; every client holds it complete.
    await eventually(
      () => clients.every((c) => c.rooms.get(aiRoom.id)?.get(2)?.status === 'complete'),
      'every client holds the reply complete',
    );
    for (const client of clients) {
      expect(client.rooms.get(aiRoom.id)?.get(2)).toMatchObject({
        role: 'assistant',
        status: 'complete',
        content: 'Half of it and the rest.',
      });
    }
    const aiStored = await storedMessages(owner, aiRoom.id);
    expect(aiStored.map((m) => [m.seq, m.role, m.status, m.content])).toEqual([
      [1, 'user', 'complete', 'explain'],
      [2, 'assistant', 'complete', 'Half of it and the rest.'],
    ]);
    expect(leaving.process.lines.map((line) => line.msg)).toEqual(
      expect.arrayContaining(['shutting down', 'draining: sockets closed', 'drained', 'database closed']),
    );
  }, 90_000);
});
