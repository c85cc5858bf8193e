import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DATABASE } from '../src/modules/persistence/database.port';
import type { PgDatabase } from '../src/modules/persistence/drivers/pg.database';
import { ShutdownState } from '../src/modules/health/shutdown-state.service';
import { eventually } from './support/eventually';
import { HttpClient, signIn, signUp } from './support/http-client';
import { startServerProcess } from './support/server-process';
import { startTestApp, type TestApp } from './support/test-app';

const ROOT = join(__dirname, '..');

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

/** The pid of a live process whose command line holds `text`, if any. */
function processWith(text: string): number | undefined {
  for (const name of readdirSync('/proc')) {
    if (/^\d+$/.test(name)) {
      try {
        if (readFileSync(`/proc/${name}/cmdline`, 'utf8').includes(text)) {
          return Number(name);
        }
      } catch {
        // gone meanwhile
      }
    }
  }
  return undefined;
}

describe('a first start killed while it makes the data directory', () => {
  let dataDir: string;

  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'chat-initdb-'));
  });

  afterEach(() => rm(dataDir, { recursive: true, force: true }));

  it('should let the next start make a clean cluster at once, with nothing of the killed start left or still writing', async () => {
    const db = join(dataDir, 'db');
    const leftovers = () => readdirSync(db).filter((name) => name.startsWith('pgdata.initdb'));
    const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', PORT: '0', DATA_DIR: dataDir };
    const killed = spawn(process.execPath, ['dist/main.js'], { cwd: ROOT, env, stdio: 'ignore' });
    const killedExit = once(killed, 'exit');
    const making = await eventually(
      () => {
        try {
          return leftovers()[0];
        } catch {
          return undefined; // no db directory yet
        }
      },
      'the first start making its cluster',
      60_000,
    );
    // initdb runs in a process of its own (pglite.worker.js): the server's SIGKILL does not take it along at once.
    const initdb = await eventually(() => processWith(join(db, making)), 'the initdb process', 10_000);
    killed.kill('SIGKILL');
    await killedExit;

    let server = await startServerProcess({ DATA_DIR: dataDir, RATE_AUTH_PER_MINUTE: '1000' });
    try {
      expect(readdirSync(db)).toContain('pgdata');
      expect(leftovers()).toEqual([]);
      const user = await signUp(server.url, 'initdb');
      await eventually(
        () => processWith(join(db, making)) !== initdb,
        "the killed start's initdb process ending",
        30_000,
      );
      expect(leftovers()).toEqual([]);

      await server.stop();
      server = await startServerProcess({ DATA_DIR: dataDir, RATE_AUTH_PER_MINUTE: '1000' });
      expect((await signIn(server.url, user)).id).toBe(user.id);
    } finally {
      await server.stop('SIGKILL');
    }
  });
});
