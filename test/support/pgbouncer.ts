/**
 * A real PgBouncer (Debian's `pgbouncer` package) in transaction pooling mode in front of a PostgreSQL server, for
 * tests: it listens on a Unix socket in a fresh temp directory only (no TCP port). Like the PostgreSQL server of
 * postgres-server.ts it refuses to run as root, so as root it runs as the `postgres` OS user (runuser).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

/** The socket's name carries a port number; nothing listens on that port. */
const SOCKET_PORT = 6432;

export interface PgBouncer {
  /** The Unix socket directory, as pg's `host`. */
  host: string;
  port: number;
  stop(): Promise<void>;
}

export async function startPgBouncer(server: { port: number }): Promise<PgBouncer> {
  const bin = ['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer'].find((file) => existsSync(file)) ?? 'pgbouncer';
  const dir = await mkdtemp(join(tmpdir(), 'pgbouncer-'));
  await chmod(dir, 0o777);
  const ini = join(dir, 'pgbouncer.ini');
  await writeFile(join(dir, 'users.txt'), '"postgres" ""\n');
  await writeFile(
    ini,
    [
      '[databases]',
      `* = host=127.0.0.1 port=${server.port}`,
      '[pgbouncer]',
      'listen_addr =',
      `listen_port = ${SOCKET_PORT}`,
      `unix_socket_dir = ${dir}`,
      'auth_type = trust',
      `auth_file = ${join(dir, 'users.txt')}`,
      'pool_mode = transaction',
      'default_pool_size = 5',
      'max_client_conn = 200',
      'ignore_startup_parameters = extra_float_digits,options',
    ].join('\n'),
  );
  const root = process.getuid?.() === 0;
  const child = root ? spawn('runuser', ['-u', 'postgres', '--', bin, ini]) : spawn(bin, [ini]);
  const exited = once(child, 'exit');
  try {
    await new Promise<void>((resolve, reject) => {
      const log: string[] = [];
      createInterface({ input: child.stderr }).on('line', (line) => {
        log.push(line);
        if (/listening on unix:/.test(line)) {
          resolve();
        }
      });
      child.once('error', reject);
      void exited.then(() => reject(new Error(`pgbouncer exited before listening:\n${log.join('\n')}`)));
    });
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    host: dir,
    port: SOCKET_PORT,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
