/**
 * Backups while running, proven restores (issue 19): the real server process on the embedded engine, the real
 * commands (`node dist/export.js` …), a real PostgreSQL server, clients over HTTP.
 */
import { once } from 'node:events';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { Client, type QueryResult } from 'pg';
import { exportLines } from '../../src/modules/data/data-exporter';
import { readExportLines, splitRowLine, verifyExportFile, writeExportFile } from '../../src/modules/data/export-file';
import { PgDatabase } from '../../src/modules/persistence/drivers/pg.database';
import { listMigrations, runMigrations } from '../../src/modules/persistence/migration-runner';
import { startEmbeddedDatabase } from '../../src/modules/persistence/drivers/embedded.database';
import { eventually } from '../support/eventually';
import { HttpClient, signIn, signUp, type TestUser } from '../support/http-client';
import { createRoom, readAll, sendMessage } from '../support/messages-helpers';
import { createDatabase } from '../support/postgres-server';
import { runDataCommand, spawnDataCommand, stderrLine } from '../support/data-commands';
import { startServerProcess, type ProcessRun, type ServerProcess } from '../support/server-process';

const PG_URL = process.env.TEST_PG_URL ?? '';
/** Sends are not what is tested here: no rate limit gets in the way. */
const UNLIMITED = { RATE_SEND_PER_10S: '1000000', RATE_HTTP_PER_MINUTE: '1000000', RATE_AUTH_PER_MINUTE: '1000' };

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'chat-data-'));
  dirs.push(dir);
  return dir;
}

afterAll(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

/** The rows of `table` in an export file. */
async function rowsOf(file: string, table: string): Promise<any[]> {
  const lines = readExportLines(file);
  const header = JSON.parse((await lines.next()).value as string) as { tables: { name: string }[] };
  const index = header.tables.findIndex((t) => t.name === table);
  const rows: any[] = [];
  for await (const line of lines) {
    const row = splitRowLine(line);
    if (row?.table === index) {
      rows.push(JSON.parse(row.json));
    }
  }
  return rows;
}

async function scalar(url: string, sql: string): Promise<string> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const results = (await client.query(sql)) as unknown as QueryResult | QueryResult[];
    const last = Array.isArray(results) ? results[results.length - 1] : results;
    return String(Object.values(last.rows[0] as object)[0]);
  } finally {
    await client.end();
  }
}

describe('backup and restore of a running embedded server', () => {
  let server: ServerProcess;
  let restored: ServerProcess | undefined;
  let owner: TestUser;
  let roomId: string;
  let file: string;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = await tempDir();
    server = await startServerProcess({ DATA_DIR: dataDir, ...UNLIMITED });
    owner = await signUp(server.url, 'bk');
    roomId = (await createRoom(owner)).id;
    file = join(await tempDir(), 'export.ndjson.gz');
  });

  afterAll(async () => {
    await restored?.stop();
    await server?.stop();
  });

  it('should export while a client keeps sending: every message acked before it began is in the file, the server keeps answering', async () => {
    const acked: any[] = [];
    const failed: number[] = [];
    let sending = true;
    const sender = (async () => {
      for (let i = 1; sending; i++) {
        const res = await sendMessage(owner, roomId, { content: `m-${i}` });
        if (res.status === 201) {
          acked.push(res.body.message);
        } else {
          failed.push(res.status);
        }
      }
    })();
    await eventually(() => acked.length >= 30, '30 sends acked');

    const ackedBefore = [...acked];
    const run = await runDataCommand('export', ['--out', file], { DATA_DIR: dataDir });
    sending = false;
    await sender;

    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.report).toMatchObject({ via: 'server', file });
    expect(failed).toEqual([]);
    const messages = (await rowsOf(file, 'public.messages')).filter((m) => m.chatroom_id === roomId);
    const ids = new Set(messages.map((m) => m.id));
    expect(ackedBefore.filter((m) => !ids.has(m.id))).toEqual([]);
    // Nothing half-written: the room's counter in the file is its highest message, and no seq is missing.
    const [room] = (await rowsOf(file, 'public.chatrooms')).filter((r) => r.id === roomId);
    const seqs = messages.map((m) => m.seq).sort((a, b) => a - b);
    expect(seqs).toEqual(Array.from({ length: room.last_seq }, (_, i) => i + 1));
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    // The channel the export went through: only the server's own user may open it.
    expect((await stat(join(dataDir, 'admin.sock'))).mode & 0o777).toBe(0o600);
    expect((await owner.http.get(`/api/rooms/${roomId}`)).status).toBe(200);
  });

  it('should restore into an empty PostgreSQL database that validates, and a server on it serves the same users, rooms and messages', async () => {
    const url = await createDatabase(PG_URL);
    const dataDir = await tempDir();
    const inFile = (await rowsOf(file, 'public.messages')).filter((m) => m.chatroom_id === roomId);

    const run = await runDataCommand('import', [file], { DATABASE_URL: url, DATA_DIR: dataDir });

    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.report).toMatchObject({ ok: true, problems: [], committed: true });
    expect(run.report.tables['public.messages']).toBeGreaterThanOrEqual(inFile.length);
    restored = await startServerProcess({ DATABASE_URL: url, DATA_DIR: dataDir, ...UNLIMITED });
    // The same password signs in, and a token signed before the move still works (the key came with the file).
    const again = await signIn(restored.url, owner);
    expect((await new HttpClient(restored.url, owner.token).get('/api/profiles/me')).body.id).toBe(owner.id);
    const room = (await again.http.get(`/api/rooms/${roomId}`)).body;
    expect(room.lastSeq).toBe(inFile.length);
    const messages = await readAll(again, roomId);
    expect(messages.map((m) => [m.id, m.seq, m.content])).toEqual(
      inFile.sort((a, b) => a.seq - b.seq).map((m) => [m.id, m.seq, m.content]),
    );
    const next = await sendMessage(again, roomId, { content: 'after the restore' });
    expect(next.body.message.seq).toBe(inFile.length + 1);
  });

  it('should export a PostgreSQL database and restore it into an empty embedded DATA_DIR', async () => {
    const url = await createDatabase(PG_URL);
    const dir = await tempDir();
    expect((await runDataCommand('import', [file], { DATABASE_URL: url, DATA_DIR: dir })).code).toBe(0);
    const fromPostgres = join(dir, 'from-postgres.ndjson.gz');
    const dataDir2 = await tempDir();

    const exported = await runDataCommand('export', ['--out', fromPostgres], { DATABASE_URL: url, DATA_DIR: dir });
    const imported = await runDataCommand('import', [fromPostgres], { DATA_DIR: dataDir2 });

    expect(exported.report).toMatchObject({ via: 'direct', rows: expect.objectContaining({ 'public.profiles': 1 }) });
    expect(imported.stderr).toBe('');
    expect(imported.report).toMatchObject({ ok: true, committed: true });
    const embedded = await startServerProcess({ DATA_DIR: dataDir2, ...UNLIMITED });
    try {
      const again = await signIn(embedded.url, owner);
      const room = (await again.http.get(`/api/rooms/${roomId}`)).body;
      expect((await readAll(again, roomId)).map((m) => m.seq)).toEqual(
        Array.from({ length: room.lastSeq }, (_, i) => i + 1),
      );
      expect((await new HttpClient(embedded.url, owner.token).get('/api/profiles/me')).status).toBe(200);
    } finally {
      await embedded.stop();
    }
  });

  it('should refuse a truncated or altered file and a database that holds data, with a clear error, exit 1 and nothing written', async () => {
    const dir = await tempDir();
    const whole = await readFile(file);
    const truncated = join(dir, 'truncated.ndjson.gz');
    await writeFile(truncated, whole.subarray(0, Math.floor(whole.length / 2)));
    const altered = join(dir, 'altered.ndjson.gz');
    await writeFile(altered, gzipSync(gunzipSync(whole).toString('utf8').replace('"m-1"', '"m-X"')));
    const url = await createDatabase(PG_URL);

    const cut = await runDataCommand('import', [truncated], { DATABASE_URL: url, DATA_DIR: dir });
    const changed = await runDataCommand('import', [altered], { DATABASE_URL: url, DATA_DIR: dir });

    expect(cut.code).toBe(1);
    expect(cut.stderr).toMatch(/^import failed: .*truncated/m);
    expect(changed.code).toBe(1);
    expect(changed.stderr).toMatch(/^import failed: .*checksum mismatch: the file was altered or damaged/m);
    // Checked before anything is written: the target is as it was, not even migrated.
    expect(await scalar(url, `select to_regclass('public.profiles') is null`)).toBe('true');

    await expect(runDataCommand('import', [file], { DATABASE_URL: url, DATA_DIR: dir })).resolves.toMatchObject({
      code: 0,
    });
    const twice = await runDataCommand('import', [file], { DATABASE_URL: url, DATA_DIR: dir });
    expect(twice.code).toBe(1);
    expect(twice.stderr).toMatch(/^import failed: the target database already holds data .*--replace/m);
    const replaced = await runDataCommand('import', [file, '--replace'], { DATABASE_URL: url, DATA_DIR: dir });
    expect(replaced.report).toMatchObject({ ok: true, committed: true });
  });

  it('should refuse to keep profiles without a Supabase Auth user in a Supabase database, and restore once they exist', async () => {
    const url = await createDatabase(PG_URL);
    const dir = await tempDir();
    // What a Supabase project has before the app's migrations: auth.users, which profiles then reference.
    await scalar(url, 'create schema auth; create table auth.users (id uuid primary key); select 1');
    const profiles = await rowsOf(file, 'public.profiles');

    const before = await runDataCommand('import', [file], { DATABASE_URL: url, DATA_DIR: dir });
    await scalar(
      url,
      `insert into auth.users (id) select unnest('{${profiles.map((p) => p.id).join(',')}}'::uuid[]); select 1`,
    );
    const after = await runDataCommand('import', [file], { DATABASE_URL: url, DATA_DIR: dir });

    expect(before.code).toBe(1);
    expect(before.report).toMatchObject({ ok: false, committed: false });
    expect(before.stderr).toContain(
      `validation: public.profiles: ${profiles.length} rows whose id names no row of auth.users`,
    );
    expect(after.code).toBe(0);
    expect(after.report).toMatchObject({ ok: true, committed: true });
  });

  it('should report a database that does not validate and exit 1', async () => {
    const url = await createDatabase(PG_URL);
    const dir = await tempDir();
    expect((await runDataCommand('import', [file], { DATABASE_URL: url, DATA_DIR: dir })).code).toBe(0);
    await scalar(url, `delete from public.messages where chatroom_id = '${roomId}' and seq = 2 returning 1`);

    const run = await runDataCommand('validate', [], { DATABASE_URL: url, DATA_DIR: dir });

    expect(run.code).toBe(1);
    expect(run.report.ok).toBe(false);
    expect(run.stderr).toContain(`validation: room ${roomId}: last_seq`);
  });
});

describe('a file from an older version of the app', () => {
  it('should load at its own migration level, then run the later migrations (their data steps too) on its rows', async () => {
    const migrations = await listMigrations();
    const feed = migrations.findIndex((m) => m.name === 'change_feed');
    const level = migrations[(feed > 0 ? feed : migrations.length - 1) - 1].version;
    const sourceUrl = await createDatabase(PG_URL);
    const source = new PgDatabase('postgres', { connectionString: sourceUrl, max: 1 });
    const file = join(await tempDir(), 'old.ndjson.gz');
    try {
      await runMigrations(source, undefined, level);
      await source.withClient(async (client) => {
        await client.query('set session_replication_role = replica');
        await client.query(`with p as (insert into public.profiles (username, display_name) values ('old_one', 'Old')
            returning id),
          r as (insert into public.chatrooms (name, owner_id, last_seq) select 'old room', id, 2 from p returning id, owner_id)
          insert into public.messages (chatroom_id, seq, role, sender_id, content)
          select r.id, g, 'user', r.owner_id, 'old ' || g from r cross join generate_series(1, 2) g`);
        await client.query('set session_replication_role = origin');
      });
      await writeExportFile(file, exportLines(source, { driver: 'postgres' }));
    } finally {
      await source.close();
    }
    const url = await createDatabase(PG_URL);

    const run = await runDataCommand('import', [file], { DATABASE_URL: url, DATA_DIR: await tempDir() });

    expect(run.stderr).toBe('');
    expect(run.report).toMatchObject({ ok: true, committed: true, migration: level });
    expect(run.report.migratedAfter).toEqual(migrations.filter((m) => m.version > level).map((m) => m.version));
    expect(run.report.tables['public.messages']).toBe(2);
    expect(await scalar(url, 'select count(*) from chat_meta.migrations')).toBe(String(migrations.length));
    // change_feed's data step numbered the loaded messages' revs.
    expect(await scalar(url, 'select count(*) from public.messages where rev = seq')).toBe('2');
  });
});

describe('moving the embedded database to PostgreSQL (migrate-data)', () => {
  const ROOMS = 20;
  const PER_ROOM = 500;

  it('should carry 10,000 messages in 20 rooms with ids, seqs and statuses; resume after an interruption; copy nothing new a second time; old tokens and afterSeq stay valid', async () => {
    const dataDir = await tempDir();
    const embedded = await startServerProcess({ DATA_DIR: dataDir, ...UNLIMITED });
    const owner = await signUp(embedded.url, 'mv');
    const roomIds: string[] = [];
    for (let i = 0; i < ROOMS; i++) {
      roomIds.push((await createRoom(owner)).id);
    }
    const seen = await sendMessage(owner, roomIds[0], { content: 'seen before the move' });
    expect(seen.body.message.seq).toBe(1);
    await embedded.stop();
    // The rest of the history, written straight into the stopped DATA_DIR: user messages and failed replies.
    const db = await startEmbeddedDatabase(dataDir);
    let source: { m: string }[];
    try {
      // Rows as they are, with their seqs: the trigger that numbers a send is not asked.
      await db.query('set session_replication_role = replica');
      await db.query(
      `insert into public.messages (chatroom_id, seq, rev, role, sender_id, content, status, error_code)
       select r.id, r.last_seq + g, r.last_rev + g, case when g % 10 = 0 then 'assistant' else 'user' end,
              case when g % 10 = 0 then null else r.owner_id end, 'bulk ' || g,
              case when g % 10 = 0 then 'failed' else 'complete' end, case when g % 10 = 0 then 'AI_FAILED' end
       from public.chatrooms r cross join generate_series(1, $2::int - r.last_seq) g where r.id = any($1::uuid[]);
       `.replace('$2::int', String(PER_ROOM)),
      [roomIds],
    );
    await db.query(
      `update public.chatrooms c set last_seq = (select max(seq) from public.messages m where m.chatroom_id = c.id),
         last_rev = (select max(rev) from public.messages m where m.chatroom_id = c.id)
       where c.id = any($1::uuid[])`,
      [roomIds],
    );
      await db.query('set session_replication_role = origin');
      source = await db.query<{ m: string }>(
        `select json_agg(json_build_array(id, chatroom_id, seq, status, role, created_at) order by id)::text as m
         from public.messages`,
      );
    } finally {
      await db.close();
    }
    const url = await createDatabase(PG_URL);

    const interrupted = spawnDataCommand('migrate-data', ['--to', url], { DATA_DIR: dataDir });
    await stderrLine(interrupted, (line) => line.includes('"table":"public.messages"'));
    interrupted.kill('SIGKILL');
    await once(interrupted, 'exit');
    const partial = Number(await scalar(url, 'select count(*) from public.messages'));
    const resumed = await runDataCommand('migrate-data', ['--to', url], { DATA_DIR: dataDir });
    const again = await runDataCommand('migrate-data', ['--to', url], { DATA_DIR: dataDir });

    expect(partial).toBeLessThan(ROOMS * PER_ROOM);
    expect(resumed.code).toBe(0);
    expect(resumed.report).toMatchObject({ ok: true, problems: [] });
    expect(resumed.report.copied['public.messages']).toBe(ROOMS * PER_ROOM - partial);
    expect(resumed.report.tables['public.messages']).toBe(ROOMS * PER_ROOM);
    expect(again.code).toBe(0);
    expect(Object.values(again.report.copied).every((n) => n === 0)).toBe(true);
    const target = await scalar(
      url,
      `select json_agg(json_build_array(id, chatroom_id, seq, status, role, created_at) order by id)::text
       from public.messages`,
    );
    expect(JSON.parse(target)).toEqual(JSON.parse(source[0].m));

    // The embedded server back for a while: what is new or changed since reaches the target in one more run, taken
    // through the running server.
    const back = await startServerProcess({ DATA_DIR: dataDir, ...UNLIMITED });
    let later: ProcessRun & { report: any };
    try {
      const owner2 = { ...owner, http: new HttpClient(back.url, owner.token) };
      expect((await owner2.http.patch('/api/profiles/me', { displayName: 'Renamed' })).status).toBe(200);
      expect((await sendMessage(owner2, roomIds[0], { content: 'the last one' })).body.message.seq).toBe(PER_ROOM + 1);
      later = await runDataCommand('migrate-data', ['--to', url], { DATA_DIR: dataDir });
    } finally {
      await back.stop();
    }
    expect(later.report).toMatchObject({ ok: true, via: 'server' });
    expect(later.report.copied).toMatchObject({ 'public.messages': 1, 'public.profiles': 1, 'public.chatrooms': 1 });

    // The same DATA_DIR holds the signing key: a client back with its old token and afterSeq gets what it missed.
    const moved = await startServerProcess({ DATABASE_URL: url, DATA_DIR: dataDir, ...UNLIMITED });
    try {
      const client = { ...owner, http: new HttpClient(moved.url, owner.token) };
      const missed = await readAll(client, roomIds[0]).then((all) => all.filter((m) => m.seq > 1));
      const page = await client.http.get(`/api/rooms/${roomIds[0]}/messages?afterSeq=1&limit=100`);
      expect(page.status).toBe(200);
      expect(page.body.messages.map((m: any) => m.seq)).toEqual(Array.from({ length: 100 }, (_, i) => i + 2));
      expect(missed.map((m) => m.seq)).toEqual(Array.from({ length: PER_ROOM }, (_, i) => i + 2));
      expect(missed[missed.length - 1].content).toBe('the last one');
      expect((await client.http.get('/api/profiles/me')).body.displayName).toBe('Renamed');
      expect((await sendMessage(client, roomIds[0], { content: 'on PostgreSQL' })).body.message.seq).toBe(PER_ROOM + 2);
    } finally {
      await moved.stop();
    }
  });
});

describe('automatic backups (BACKUP_INTERVAL)', () => {
  it('should back up at the start and every interval, atomically and mode 0600, keep the newest BACKUP_KEEP, and expose the last success', async () => {
    const backupDir = await tempDir();
    const server = await startServerProcess({
      DATA_DIR: await tempDir(),
      BACKUP_INTERVAL: '1s',
      BACKUP_KEEP: '2',
      BACKUP_DIR: backupDir,
    });
    let metrics = '';
    try {
      await signUp(server.url, 'auto');
      await eventually(
        () => server.lines.filter((line) => line.msg === 'backup written').length >= 4,
        'four backups written',
      );
      metrics = await (await fetch(`${server.url}/metrics`)).text();
    } finally {
      await server.stop();
    }

    const files = (await readdir(backupDir)).sort();
    expect(files).toHaveLength(2);
    expect(files.every((f) => /^chat-backup-.+\.ndjson\.gz$/.test(f))).toBe(true);
    for (const f of files) {
      expect((await stat(join(backupDir, f))).mode & 0o777).toBe(0o600);
      await expect(verifyExportFile(join(backupDir, f))).resolves.toMatchObject({
        trailer: { rows: expect.objectContaining({ 'public.profiles': 1 }) },
      });
    }
    expect(server.lines.filter((line) => line.msg === 'backup failed')).toEqual([]);
    expect(Number(/^chat_backup_last_success_timestamp_seconds (\S+)$/m.exec(metrics)?.[1])).toBeGreaterThan(0);
    expect(metrics).toMatch(/^chat_backup_interval_seconds 1$/m);
  });
});
