import { Client } from 'pg';
import { createDatabase } from './support/postgres-server';

describe('test PostgreSQL server (globalSetup)', () => {
  const adminUrl = process.env.TEST_PG_URL;
  let admin: Client;

  beforeAll(async () => {
    if (!adminUrl) {
      throw new Error('TEST_PG_URL is not set: is test/global-setup.ts configured as jest globalSetup?');
    }
    admin = new Client({ connectionString: adminUrl });
    await admin.connect();
  });

  afterAll(async () => {
    await admin?.end();
  });

  it('is PostgreSQL 15 or newer', async () => {
    const { rows } = await admin.query<{ ok: boolean }>(
      `select current_setting('server_version_num')::int >= 150000 as ok`,
    );
    expect(rows[0].ok).toBe(true);
  });

  it('runs with fsync off', async () => {
    const { rows } = await admin.query<{ fsync: string }>(`select current_setting('fsync') as fsync`);
    expect(rows[0].fsync).toBe('off');
  });

  it('creates a fresh database that can be connected to', async () => {
    const url = await createDatabase(adminUrl!);
    expect(url).toMatch(/\/t_[0-9a-f]+$/);
    const client = new Client({ connectionString: url });
    await client.connect();
    try {
      const { rows } = await client.query<{ db: string }>('select current_database() as db');
      expect(url.endsWith(`/${rows[0].db}`)).toBe(true);
    } finally {
      await client.end();
    }
  });
});
