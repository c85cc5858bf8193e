/**
 * The bench's PostgreSQL server: the test suite's throwaway server (test/support/postgres-server.ts), which runs
 * with fsync, full_page_writes and synchronous_commit off for speed, restarted durable unless the run asks for the
 * unsafe figures: `fsync=on`, `full_page_writes=on`, `synchronous_commit=on`, so an acknowledged send is on disk as
 * it would be in production. The settings the server reports are returned with it.
 */
import { execFile as execFileCallback } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { startPostgresServer, type PostgresServer } from '../test/support/postgres-server';

const execFile = promisify(execFileCallback);
const DURABILITY_SETTINGS = ['fsync', 'full_page_writes', 'synchronous_commit', 'wal_sync_method'] as const;

export interface BenchPostgres extends PostgresServer {
  /** What `SHOW` answers for the durability settings once the server is up. */
  settings: Record<(typeof DURABILITY_SETTINGS)[number], string>;
  /** The postmaster's pid (its backends are its children). */
  pid(): number;
}

/** `statements`: the server also loads pg_stat_statements, tracking nested statements (a function's own queries). */
export async function startBenchPostgres(durable: boolean, statements = false): Promise<BenchPostgres> {
  const server = await startPostgresServer();
  try {
    if (durable || statements) {
      await restart(server, durable, statements);
    }
    const client = new Client({ connectionString: server.url });
    await client.connect();
    const settings = {} as BenchPostgres['settings'];
    try {
      for (const name of DURABILITY_SETTINGS) {
        const { rows } = await client.query<Record<string, string>>(`show ${name}`);
        settings[name] = rows[0][name];
      }
    } finally {
      await client.end();
    }
    const expected = durable ? 'on' : 'off';
    if (settings.fsync !== expected || settings.synchronous_commit !== expected) {
      throw new Error(`the bench's PostgreSQL runs with ${JSON.stringify(settings)}, not fsync=${expected}`);
    }
    return {
      ...server,
      settings,
      pid: () => Number(readFileSync(join(server.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]),
    };
  } catch (err) {
    await server.stop();
    throw err;
  }
}

/**
 * `pg_ctl restart` with the test server's options, durable unless asked not to be. Options given on the command line
 * win over `ALTER SYSTEM`, so a restart with other options is the only way to change fsync on a running test server.
 * As the test helper does, it runs pg_ctl as the `postgres` OS user when we are root.
 */
async function restart(server: PostgresServer, durable: boolean, statements: boolean): Promise<void> {
  const dir = dirname(server.dataDir);
  const on = durable ? 'on' : 'off';
  const options = [
    '-c listen_addresses=127.0.0.1',
    `-p ${server.port}`,
    `-k '${dir}'`,
    `-c fsync=${on}`,
    `-c synchronous_commit=${on}`,
    `-c full_page_writes=${on}`,
    '-c max_connections=200',
    ...(statements ? ['-c shared_preload_libraries=pg_stat_statements', '-c pg_stat_statements.track=all'] : []),
  ].join(' ');
  const pgCtl = join(dirname(readFileSync(join(server.dataDir, 'postmaster.opts'), 'utf8').split(' ')[0]), 'pg_ctl');
  const args = ['-D', server.dataDir, '-w', '-l', join(dir, 'log'), '-m', 'fast', 'restart', '-o', options];
  const root = process.getuid?.() === 0;
  await execFile(root ? 'runuser' : pgCtl, root ? ['-u', 'postgres', '--', pgCtl, ...args] : args, {
    cwd: dir,
    env: { PATH: process.env.PATH ?? '', LC_ALL: 'C', LANG: 'C' },
    timeout: 120_000,
  });
}
