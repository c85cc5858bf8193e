import { DATABASE } from '../src/modules/persistence/database.port';
import type { PgDatabase } from '../src/modules/persistence/drivers/pg.database';
import { ShutdownState } from '../src/modules/health/shutdown-state.service';
import { HttpClient } from './support/http-client';
import { startTestApp, type TestApp } from './support/test-app';

describe('the embedded database', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });

  afterAll(() => t.close());

  it('should keep answering HTTP while a long query runs in the engine', async () => {
    const db = t.app.get<PgDatabase>(DATABASE);
    expect(db.driver).toBe('pglite');
    let queryDone = false;
    // Seconds of engine work: were the engine on the main thread, no HTTP answer could come before it ends.
    const query = db
      .query<{ total: string }>('select sum(x)::text as total from generate_series(1, 20000000) x')
      .then((rows) => {
        queryDone = true;
        return rows;
      });
    const client = new HttpClient(t.url);
    const answeredWhileBusy: boolean[] = [];
    for (let i = 0; i < 5; i++) {
      const live = await client.get('/health/live');
      expect(live.status).toBe(200);
      answeredWhileBusy.push(!queryDone);
    }
    expect(answeredWhileBusy).toEqual([true, true, true, true, true]);
    expect(await query).toEqual([{ total: '200000010000000' }]);
  });

  it('should answer ready 503 with the terminus body once shutdown has begun', async () => {
    const client = new HttpClient(t.url);
    expect((await client.get('/health/ready')).status).toBe(200);
    t.app.get(ShutdownState).begin();
    const ready = await client.get('/health/ready');
    expect(ready.status).toBe(503);
    expect(ready.body).toMatchObject({
      status: 'error',
      error: { shutdown: { status: 'down' } },
      info: { database: { status: 'up' } },
    });
    expect((await client.get('/health/live')).status).toBe(200);
  });
});
