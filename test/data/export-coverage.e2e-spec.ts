/**
 * The export is schema-driven: every table the app owns is in it. A table a migration creates, or any table of the
 * migrated database outside the schemas that belong to others, must be exported or named in NOT_EXPORTED with its
 * reason; this fails the day one is neither.
 */
import { PgDatabase } from '../../src/modules/persistence/drivers/pg.database';
import { runMigrations } from '../../src/modules/persistence/migration-runner';
import { appTables, NOT_EXPORTED, tablesOfMigrations } from '../../src/modules/data/app-tables';
import { createDatabase } from '../support/postgres-server';

/** Schemas of Postgres itself and of the compat layer (auth: Supabase's, whose users Supabase Auth owns). */
const NOT_APP_SCHEMAS = ['pg_catalog', 'information_schema', 'pg_toast', 'auth'];

describe('export coverage', () => {
  let db: PgDatabase;

  beforeAll(async () => {
    db = new PgDatabase('postgres', { connectionString: await createDatabase(process.env.TEST_PG_URL ?? ''), max: 2 });
    await runMigrations(db);
  });

  afterAll(async () => {
    await db?.close();
  });

  it('should export every table of the migrated database, or say why not', async () => {
    const exported = new Set((await appTables(db)).map((t) => t.name));
    const all = await db.query<{ name: string }>(
      `select n.nspname || '.' || c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
       where c.relkind in ('r', 'p') and n.nspname <> all($1::text[]) and n.nspname not like 'pg_temp%'`,
      [NOT_APP_SCHEMAS],
    );

    const uncovered = all.map((t) => t.name).filter((name) => !exported.has(name) && !(name in NOT_EXPORTED));

    expect(uncovered).toEqual([]);
    expect([...exported]).toEqual(expect.arrayContaining(['public.profiles', 'public.messages', 'chat_private.local_credentials']));
  });

  it('should export every table a migration creates', async () => {
    const exported = new Set((await appTables(db)).map((t) => t.name));

    const uncovered = (await tablesOfMigrations()).filter((name) => !exported.has(name) && !(name in NOT_EXPORTED));

    expect(uncovered).toEqual([]);
  });

  it('should find a table added by a later migration without being told its name', async () => {
    await db.query(`create table public.zz_coverage_probe (id uuid primary key default gen_random_uuid(), note text);
      alter table public.zz_coverage_probe enable row level security`);
    try {
      const exported = (await appTables(db)).map((t) => t.name);

      expect(exported).toContain('public.zz_coverage_probe');
    } finally {
      await db.query('drop table public.zz_coverage_probe');
    }
  });

  it('should refuse a table without a primary key (it could not be read in batches)', async () => {
    await db.query('create table public.zz_no_key (note text)');
    try {
      await expect(appTables(db)).rejects.toThrow('table public.zz_no_key has no primary key');
    } finally {
      await db.query('drop table public.zz_no_key');
    }
  });
});
