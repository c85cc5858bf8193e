import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SERVICE_ACTOR, userActor } from '../../src/modules/persistence/database.port';
import { startEmbeddedDatabase } from '../../src/modules/persistence/drivers/embedded.database';
import { PgDatabase } from '../../src/modules/persistence/drivers/pg.database';
import { listMigrations, runMigrations } from '../../src/modules/persistence/migration-runner';
import { createDatabase } from '../support/postgres-server';

const ROOT = join(__dirname, '..', '..');

/** What is in migrations/, read independently of the runner: `<14 digits>_<name>.sql`, in name order. */
async function migrationFiles(): Promise<{ version: string; name: string }[]> {
  const files = (await readdir(join(ROOT, 'migrations'))).filter((f) => f.endsWith('.sql')).sort();
  return files.map((f) => ({ version: f.slice(0, 14), name: f.slice(15, -'.sql'.length) }));
}

/** Temp dirs and databases a test opened, released after it. */
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) {
    await cleanup();
  }
});

async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function freshDatabaseUrl(): Promise<string> {
  const adminUrl = process.env.TEST_PG_URL;
  if (!adminUrl) {
    throw new Error('TEST_PG_URL is not set: is test/global-setup.ts configured as jest globalSetup?');
  }
  return createDatabase(adminUrl);
}

/** A PgDatabase on a fresh, empty database of the test server, closed after the test. */
async function freshPostgres(): Promise<{ db: PgDatabase; url: string }> {
  const url = await freshDatabaseUrl();
  const db = new PgDatabase('postgres', { connectionString: url, max: 2 });
  cleanups.push(() => db.close());
  return { db, url };
}

async function recorded(db: PgDatabase) {
  return db.query<{ version: string; name: string; applied_at: Date }>(
    'select version, name, applied_at from chat_meta.migrations order by version',
  );
}

async function relationExists(db: PgDatabase, name: string): Promise<boolean> {
  const [row] = await db.query<{ oid: string | null }>('select to_regclass($1)::text as oid', [name]);
  return row.oid !== null;
}

/** What the migrations made, to compare before and after a run that should change nothing. */
async function schemaFingerprint(db: PgDatabase) {
  return db.query(`
    select 'function' as kind, p.oid::regprocedure::text as name, md5(p.prosrc) as detail
      from pg_proc p join pg_namespace n on n.oid = p.pronamespace
      where n.nspname in ('public', 'chat_private', 'auth', 'chat_meta')
    union all
    select 'policy', tablename || '.' || policyname, md5(coalesce(qual, '') || coalesce(with_check, '')) from pg_policies
    union all
    select 'table', table_schema || '.' || table_name, null from information_schema.tables
      where table_schema in ('public', 'chat_private', 'chat_meta')
    order by 1, 2`);
}

async function writeMigrations(dir: string, files: Record<string, string>): Promise<void> {
  for (const [file, sql] of Object.entries(files)) {
    await writeFile(join(dir, file), sql);
  }
}

/** The advisory lock key of migration-runner.ts, which serializes concurrent runs on one database. */
const MIGRATION_LOCK_KEY = 'chat-backend:migrations';

/** Polls until `count` sessions wait for an advisory lock in db's database (no event tells us). */
async function waitForLockWaiters(db: PgDatabase, count: number, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [row] = await db.query<{ n: number }>(
      `select count(*)::int as n from pg_locks l join pg_database d on d.oid = l.database
        where l.locktype = 'advisory' and not l.granted and d.datname = current_database()`,
    );
    if (row.n >= count) {
      return;
    }
    if (Date.now() > deadline) {
      throw new Error(`only ${row.n} of ${count} migrate processes reached the migration lock in ${timeoutMs} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

interface MigrateRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `node dist/migrate.js` (what `npm run migrate` runs after building) against one database. */
async function migrateProcess(databaseUrl: string, cwd: string): Promise<MigrateRun> {
  const child = spawn(process.execPath, [join(ROOT, 'dist', 'migrate.js')], {
    cwd,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      NODE_ENV: 'test',
      DATABASE_URL: databaseUrl,
      DATA_DIR: join(cwd, 'data'),
      LOCAL_JWT_SECRET: 'x'.repeat(48),
    },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stdout, stderr };
}

describe('migrations on PostgreSQL', () => {
  it('should apply every file of migrations/ in order on a fresh database and record each', async () => {
    const files = await migrationFiles();
    expect(files.length).toBeGreaterThan(0);
    const { db } = await freshPostgres();

    const applied = await runMigrations(db);

    expect(applied).toEqual(files.map((f) => f.version));
    expect((await recorded(db)).map(({ version, name }) => ({ version, name }))).toEqual(files);
    // the schema works: the service registers, a user opens a room
    const [profile] = await db.call<{ id: string }>(SERVICE_ACTOR, 'local_register', {
      p_username: 'first_user',
      p_display_name: 'First',
      p_password_hash: 'h',
    });
    const [room] = await db.call<{ my_role: string }>(userActor(profile.id), 'create_room', {
      p_name: 'after migrating',
      p_visibility: 'private',
      p_ai_mode: 'off',
      p_ai_system_prompt: null,
      p_ai_model: null,
    });
    expect(room.my_role).toBe('owner');
  });

  it('should apply nothing and change nothing on a second run', async () => {
    const { db } = await freshPostgres();
    await runMigrations(db);
    await db.call(SERVICE_ACTOR, 'local_register', {
      p_username: 'kept_user',
      p_display_name: 'Kept',
      p_password_hash: 'h',
    });
    const records = await recorded(db);
    const schema = await schemaFingerprint(db);

    expect(await runMigrations(db)).toEqual([]);

    expect(await recorded(db)).toEqual(records);
    expect(await schemaFingerprint(db)).toEqual(schema);
    expect(await db.call(SERVICE_ACTOR, 'local_sign_in', { p_username: 'kept_user' })).toEqual([
      expect.objectContaining({ username: 'kept_user', display_name: 'Kept' }),
    ]);
  });

  it('should apply each file exactly once when two processes migrate one database at once', async () => {
    const versions = (await migrationFiles()).map((f) => f.version);
    const { db, url } = await freshPostgres();
    const cwd = await tempDir('chat-migrate-');

    // Hold the runner's lock so both processes are provably inside runMigrations at once, then let them race.
    const runs = await db.withClient(async (holder) => {
      await holder.query('select pg_advisory_lock(hashtext($1))', [MIGRATION_LOCK_KEY]);
      const started = [migrateProcess(url, cwd), migrateProcess(url, cwd)];
      try {
        await waitForLockWaiters(db, 2);
      } finally {
        await holder.query('select pg_advisory_unlock(hashtext($1))', [MIGRATION_LOCK_KEY]);
      }
      return Promise.all(started);
    });

    for (const run of runs) {
      expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
      expect(run.stdout.trim().split('\n')).toHaveLength(1);
    }
    const outputs = runs.map((run) => JSON.parse(run.stdout) as { driver: string; applied: string[] });
    expect(outputs.map((o) => o.driver)).toEqual(['postgres', 'postgres']);
    const all = outputs.flatMap((o) => o.applied);
    expect([...all].sort()).toEqual(versions);
    for (const o of outputs) {
      expect(o.applied).toEqual([...o.applied].sort());
    }
    expect((await recorded(db)).map((r) => r.version)).toEqual(versions);
    const [dupes] = await db.query<{ n: number }>(
      'select count(*)::int as n from (select version from chat_meta.migrations group by version having count(*) > 1) d',
    );
    expect(dupes.n).toBe(0);
  });

  it('should apply pending files in version order whatever order they were written in', async () => {
    const dir = await tempDir('chat-migrations-');
    await writeMigrations(dir, {
      '20300101000200_add_column.sql': 'alter table public.ordered_things add column label text;',
      '20300101000100_create_table.sql': 'create table public.ordered_things (id int primary key);',
    });
    const { db } = await freshPostgres();

    expect(await runMigrations(db, dir)).toEqual(['20300101000100', '20300101000200']);
    expect(
      await db.query('select column_name from information_schema.columns where table_name = $1 order by 1', [
        'ordered_things',
      ]),
    ).toEqual([{ column_name: 'id' }, { column_name: 'label' }]);
  });

  it('should ignore files that are not .sql', async () => {
    const dir = await tempDir('chat-migrations-');
    await writeMigrations(dir, {
      '20300101000100_only.sql': 'create table public.only_thing (id int);',
      'README.md': 'not a migration',
      '.gitkeep': '',
      '20300101000200_notes.sql.txt': 'this is not sql at all',
    });
    const { db } = await freshPostgres();

    expect(await runMigrations(db, dir)).toEqual(['20300101000100']);
    expect((await recorded(db)).map((r) => r.version)).toEqual(['20300101000100']);
  });

  it.each([
    ['no timestamp', 'create_things.sql'],
    ['a short timestamp', '2030010100000_things.sql'],
    ['a long timestamp', '203001010000000_things.sql'],
    ['a dash instead of an underscore', '20300101000100-things.sql'],
    ['an empty name', '20300101000100_.sql'],
    ['upper case', '20300101000100_Things.sql'],
    ['a space', '20300101000100_two things.sql'],
    ['a hyphenated name', '20300101000100_two-things.sql'],
  ])('should refuse a migration file name with %s before applying anything', async (_label, badName) => {
    const dir = await tempDir('chat-migrations-');
    await writeMigrations(dir, {
      '20300101000000_good.sql': 'create table public.good_before_bad (id int);',
      [badName]: 'create table public.from_bad_name (id int);',
    });
    const { db } = await freshPostgres();

    await expect(listMigrations(dir)).rejects.toThrow(`<UTC timestamp>_<name>.sql: ${badName}`);
    await expect(runMigrations(db, dir)).rejects.toThrow(badName);

    expect(await relationExists(db, 'public.good_before_bad')).toBe(false);
    expect(await relationExists(db, 'public.from_bad_name')).toBe(false);
    expect(await relationExists(db, 'chat_meta.migrations')).toBe(false);
  });

  it('should roll back only the failing migration: the good one stays, later ones wait', async () => {
    const dir = await tempDir('chat-migrations-');
    await writeMigrations(dir, {
      '20300101000000_good.sql': `create table public.good_table (id int); insert into public.good_table values (1);`,
      '20300101000100_bad.sql': `create table public.partial_table (id int);
        insert into public.partial_table values (1);
        insert into public.good_table values (2);
        select * from public.no_such_table;`,
      '20300101000200_later.sql': 'create table public.later_table (id int);',
    });
    const { db } = await freshPostgres();

    const failure = await runMigrations(db, dir).then(
      () => undefined,
      (error: Error & { cause?: { code?: string } }) => error,
    );
    expect(failure?.message).toMatch(/^Migration 20300101000100_bad failed: .*no_such_table/);
    expect(failure?.cause?.code).toBe('42P01');

    expect(await recorded(db)).toEqual([expect.objectContaining({ version: '20300101000000', name: 'good' })]);
    expect(await db.query('select id from public.good_table order by id')).toEqual([{ id: 1 }]);
    expect(await relationExists(db, 'public.partial_table')).toBe(false);
    expect(await relationExists(db, 'public.later_table')).toBe(false);

    // fixed, the next run applies the rest and only the rest
    await writeMigrations(dir, { '20300101000100_bad.sql': 'create table public.partial_table (id int);' });
    expect(await runMigrations(db, dir)).toEqual(['20300101000100', '20300101000200']);
    expect((await recorded(db)).map((r) => r.version)).toEqual(['20300101000000', '20300101000100', '20300101000200']);
    expect(await db.query('select id from public.good_table order by id')).toEqual([{ id: 1 }]);
  });
});

describe('migrations on the embedded database', () => {
  it('should apply nothing on a reopened data dir and keep the data written in between', async () => {
    const versions = (await migrationFiles()).map((f) => f.version);
    const dataDir = await tempDir('chat-embedded-migrations-');

    const first = await startEmbeddedDatabase(dataDir);
    let userId: string;
    let roomId: string;
    try {
      expect(await runMigrations(first)).toEqual(versions);
      const [profile] = await first.call<{ id: string }>(SERVICE_ACTOR, 'local_register', {
        p_username: 'survivor',
        p_display_name: 'Survivor',
        p_password_hash: 'h',
      });
      userId = profile.id;
      const [room] = await first.call<{ id: string }>(userActor(userId), 'create_room', {
        p_name: 'still here',
        p_visibility: 'private',
        p_ai_mode: 'off',
        p_ai_system_prompt: null,
        p_ai_model: null,
      });
      roomId = room.id;
      await first.call(userActor(userId), 'post_message', {
        p_room_id: roomId,
        p_content: 'written',
        p_client_id: 'c1',
      });
    } finally {
      await first.close();
    }

    const second = await startEmbeddedDatabase(dataDir);
    try {
      const records = await recorded(second);
      expect(records.map((r) => r.version)).toEqual(versions);

      expect(await runMigrations(second)).toEqual([]);

      expect(await recorded(second)).toEqual(records);
      expect(await second.call(SERVICE_ACTOR, 'local_sign_in', { p_username: 'survivor' })).toEqual([
        expect.objectContaining({ id: userId, password_hash: 'h' }),
      ]);
      expect(
        await second.call(userActor(userId), 'list_messages', {
          p_room_id: roomId,
          p_after_seq: null,
          p_before_seq: null,
          p_limit: 10,
        }),
      ).toEqual([expect.objectContaining({ seq: 1, content: 'written', client_id: 'c1' })]);
    } finally {
      await second.close();
    }
  });
});
