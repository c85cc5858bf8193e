import Redis from 'ioredis';
import { startCluster, type Cluster } from './support/cluster';
import { HttpClient } from './support/http-client';
import { startRedisServer, type RedisServer } from './support/redis-server';

describe('the test cluster (test/support/cluster.ts, redis-server.ts)', () => {
  let redis: RedisServer;
  let cluster: Cluster | undefined;

  beforeAll(async () => {
    redis = await startRedisServer();
  });

  afterEach(async () => {
    await cluster?.close();
    cluster = undefined;
  });

  afterAll(async () => {
    await redis?.stop();
  });

  it('should run two instances on one database and Redis, both ready, each its own process', async () => {
    cluster = await startCluster({ redis });

    expect(cluster.urls).toHaveLength(2);
    expect(new Set(cluster.urls).size).toBe(2);
    expect(new Set(cluster.instances.map((i) => i.process.child.pid)).size).toBe(2);
    for (const url of cluster.urls) {
      const ready = await new HttpClient(url).get('/health/ready');
      expect({ url, status: ready.status }).toEqual({ url, status: 200 });
      expect(ready.body.info).toMatchObject({
        database: { status: 'up', driver: 'postgres' },
        redis: { status: 'up', state: 'connected' },
      });
    }
    expect(cluster.env).toMatchObject({ REDIS_URL: redis.url, DATABASE_URL: cluster.databaseUrl });
    expect(cluster.env.LOCAL_JWT_SECRET.length).toBeGreaterThanOrEqual(32);
  });

  it('should add instances, close after a kill, and report an instance that died without the test asking', async () => {
    const running = await startCluster({ redis, instances: 1 });
    cluster = running;
    const [killed, crashed] = await Promise.all([running.addInstance(), running.addInstance()]);
    expect(running.urls).toHaveLength(3);
    expect((await new HttpClient(crashed.url).get('/health/ready')).status).toBe(200);

    await killed.kill();
    await crashed.process.stop('SIGKILL'); // behind the cluster's back, as a crash would
    cluster = undefined;
    const failure = await running.close().then(
      () => new Error('close() resolved'),
      (error: Error) => error,
    );

    expect(failure.message).toContain(`${crashed.url} exited by itself (code null, signal SIGKILL)`);
    expect(failure.message).not.toContain(killed.url);
    expect(running.instances[0].process.child.exitCode).toBe(0);
  });

  it('should bring Redis back on the same port after a restart and after a kill', async () => {
    const client = new Redis(redis.url, { maxRetriesPerRequest: null, retryStrategy: () => 20 });
    try {
      expect(await client.ping()).toBe('PONG');
      await client.set('kept', 'no');

      await redis.restart('SIGKILL');
      expect(redis.url).toBe(`redis://127.0.0.1:${redis.port}`);
      expect(await client.ping()).toBe('PONG');
      // Nothing is saved: a restarted server is empty.
      expect(await client.get('kept')).toBeNull();

      await redis.kill();
      expect(redis.running).toBe(false);
      await redis.start();
      expect(await client.ping()).toBe('PONG');
    } finally {
      client.disconnect();
    }
  });
});
