/**
 * How long backups, restores and the move to PostgreSQL take (README "Backups and moving to PostgreSQL/Supabase"):
 * an embedded DATA_DIR seeded with --messages messages in --rooms rooms, then, timed, the commands as an operator
 * runs them: `export` of the stopped DATA_DIR, `export` through a running server's admin channel, `import` into an
 * empty PostgreSQL database and into an empty DATA_DIR (validation included), `migrate-data` into PostgreSQL.
 *
 *   npm run build && tsc -p bench/tsconfig.json && node bench/dist/bench/data-transfer.js --messages 100000 --rooms 100
 */
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs, promisify } from 'node:util';
import { createDatabase, startPostgresServer } from '../test/support/postgres-server';

const ROOT = resolve(__dirname, '../../..');
const run = promisify(execFile);

interface Embedded {
  query(sql: string, values?: unknown[]): Promise<unknown[]>;
  close(): Promise<void>;
}
// The built server's driver: its worker thread file lives in dist/, not in bench/dist/.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { startEmbeddedDatabase } = require(join(ROOT, 'dist/modules/persistence/drivers/embedded.database.js')) as {
  startEmbeddedDatabase(dir: string): Promise<Embedded>;
};

async function command(script: string, args: string[], env: Record<string, string>): Promise<number> {
  const started = performance.now();
  await run(process.execPath, [join(ROOT, 'dist', script), ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    maxBuffer: 64 * 1024 * 1024,
  });
  return (performance.now() - started) / 1000;
}

async function seed(dataDir: string, messages: number, rooms: number): Promise<void> {
  await command('migrate.js', [], { DATA_DIR: dataDir });
  const db = await startEmbeddedDatabase(dataDir);
  try {
    await db.query('set session_replication_role = replica');
    await db.query(`insert into public.profiles (username, display_name)
      select 'user_' || g, 'User ' || g from generate_series(1, ${rooms}) g`);
    await db.query(`insert into public.chatrooms (name, owner_id, ai_mode)
      select 'room ' || p.username, p.id, 'off' from public.profiles p`);
    await db.query(`insert into public.chatroom_members (chatroom_id, profile_id, role)
      select c.id, c.owner_id, 'owner' from public.chatrooms c`);
    const perRoom = Math.ceil(messages / rooms);
    await db.query(`insert into public.messages (chatroom_id, seq, rev, role, sender_id, content)
      select c.id, g, g, 'user', c.owner_id, repeat('a message of about a hundred characters ', 2) || g
      from public.chatrooms c cross join generate_series(1, ${perRoom}) g`);
    await db.query(`update public.chatrooms c set last_seq = ${perRoom}, last_rev = ${perRoom}`);
  } finally {
    await db.close();
  }
}

/** The server on `dataDir`, until it listens. */
async function startServer(dataDir: string): Promise<() => Promise<void>> {
  const child = spawn(process.execPath, [join(ROOT, 'dist/main.js')], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', DATA_DIR: dataDir, PORT: '0' },
  });
  for await (const line of createInterface({ input: child.stdout })) {
    if (line.includes('listening on port')) {
      break;
    }
  }
  return async () => {
    child.kill('SIGTERM');
    await once(child, 'exit');
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { messages: { type: 'string' }, rooms: { type: 'string' } } });
  const messages = Number(values.messages ?? 100_000);
  const rooms = Number(values.rooms ?? 100);
  const dir = await mkdtemp(join(tmpdir(), 'bench-data-'));
  const pg = await startPostgresServer({ crashSafe: true });
  try {
    const dataDir = join(dir, 'data');
    await seed(dataDir, messages, rooms);
    const file = join(dir, 'export.ndjson.gz');
    const rows = (s: number) => `${s.toFixed(1)} s, ${Math.round(messages / s).toLocaleString('en')} messages/s`;

    const stopped = await command('export.js', ['--out', file], { DATA_DIR: dataDir });
    const { size } = await stat(file);
    console.log(`export, stopped DATA_DIR:      ${rows(stopped)} (${(size / 1e6).toFixed(1)} MB gzip'd)`);

    const stop = await startServer(dataDir);
    const live = await command('export.js', ['--out', join(dir, 'live.ndjson.gz')], { DATA_DIR: dataDir });
    await stop();
    console.log(`export, running server:       ${rows(live)}`);

    const imported = await command('import.js', [file], {
      DATABASE_URL: await createDatabase(pg.url),
      DATA_DIR: join(dir, 'import'),
    });
    console.log(`import + validation, Postgres: ${rows(imported)}`);

    const embedded = await command('import.js', [file], { DATA_DIR: join(dir, 'import-embedded') });
    console.log(`import + validation, embedded: ${rows(embedded)}`);

    const moved = await command('migrate-data.js', ['--to', await createDatabase(pg.url)], { DATA_DIR: dataDir });
    console.log(`migrate-data to Postgres:      ${rows(moved)}`);
  } finally {
    await pg.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
