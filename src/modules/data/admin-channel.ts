/**
 * The local admin channel of a server running the embedded database: the server owns the engine (one writer per
 * DATA_DIR), so `npm run export` / `npm run validate` against it ask the server. A Unix socket,
 * `<DATA_DIR>/admin.sock`, mode 0600 in a 0700 directory: only the user the server runs as can open it; nothing of
 * it reaches the network. One request a connection, a JSON line (`{"op":"export"}` or `{"op":"validate"}`); the
 * answer is the export's lines, or one line with the validation report, or one `{"error":"..."}` line.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { chmod, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { once } from 'node:events';
import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { APP_CONFIG, type AppConfig } from '../../config/app-config';
import { DATABASE, type Database } from '../persistence/database.port';
import { PgDatabase } from '../persistence/drivers/pg.database';
import { exportLines } from './data-exporter';
import { validateData } from './data-validator';

export const ADMIN_SOCKET = 'admin.sock';
/** The longest path a Unix socket may have (Linux: 108 bytes with the terminating zero). */
const MAX_SOCKET_PATH = 107;

export type AdminOp = 'export' | 'validate';

/** The embedded database's local (Unix socket) channel for export and validation. */
@Injectable()
export class AdminChannel implements OnApplicationBootstrap, OnModuleDestroy {
  private server?: Server;
  private readonly connections = new Set<Socket>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(DATABASE) private readonly db: Database,
    @InjectPinoLogger(AdminChannel.name) private readonly logger: PinoLogger,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (!(this.db instanceof PgDatabase) || this.config.database.driver !== 'pglite') {
      return;
    }
    const path = join(this.config.dataDir, ADMIN_SOCKET);
    if (Buffer.byteLength(path) > MAX_SOCKET_PATH) {
      this.logger.warn({ path }, 'admin channel off: DATA_DIR is too long a path for a Unix socket');
      return;
    }
    // This process holds DATA_DIR's lock: a socket file there is a previous run's.
    await rm(path, { force: true });
    const db = this.db;
    const server = createServer((socket) => void this.serve(db, socket));
    server.listen(path);
    await once(server, 'listening');
    await chmod(path, 0o600);
    this.server = server;
    this.logger.info({ path }, 'admin channel listening');
  }

  async onModuleDestroy(): Promise<void> {
    const server = this.server;
    if (!server) {
      return;
    }
    this.server = undefined;
    this.connections.forEach((socket) => socket.destroy());
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async serve(db: PgDatabase, socket: Socket): Promise<void> {
    this.connections.add(socket);
    const abort = new AbortController();
    socket.on('close', () => {
      this.connections.delete(socket);
      abort.abort();
    });
    socket.on('error', () => abort.abort());
    const started = performance.now();
    let op: string | undefined;
    try {
      const [request] = (await once(createInterface({ input: socket }), 'line')) as [string];
      op = (JSON.parse(request) as { op?: string }).op;
      switch (op ?? '') {
        case 'export': {
          let lines = 0;
          const secret = this.config.auth.mode === 'local' ? this.config.auth.localJwtSecret : undefined;
          for await (const line of exportLines(db, {
            driver: db.driver,
            localJwtSecret: secret,
            signal: abort.signal,
          })) {
            lines += 1;
            if (!socket.write(`${line}\n`)) {
              await once(socket, 'drain', { signal: abort.signal });
            }
          }
          this.logger.info({ op, lines, durationMs: Math.round(performance.now() - started) }, 'admin request served');
          break;
        }
        case 'validate':
          socket.write(`${JSON.stringify(await validateData(db))}\n`);
          this.logger.info({ op, durationMs: Math.round(performance.now() - started) }, 'admin request served');
          break;
        default:
          socket.write(`${JSON.stringify({ error: `unknown op ${String(op)}` })}\n`);
      }
    } catch (error) {
      if (!abort.signal.aborted) {
        this.logger.error({ err: error, op }, 'admin request failed');
        socket.write(`${JSON.stringify({ error: (error as Error).message })}\n`);
      }
    } finally {
      socket.end();
    }
  }
}

/**
 * Asks the server on DATA_DIR's admin channel; yields the answer's lines (an `{"error"}` line throws). Resolves to
 * undefined when no server listens there.
 */
export async function askServer(dataDir: string, op: AdminOp): Promise<AsyncGenerator<string> | undefined> {
  const socket = connect(join(dataDir, ADMIN_SOCKET));
  try {
    await once(socket, 'connect');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ECONNREFUSED') {
      return undefined;
    }
    throw error;
  }
  socket.write(`${JSON.stringify({ op })}\n`);
  return (async function* () {
    try {
      for await (const line of createInterface({ input: socket, crlfDelay: Infinity })) {
        if (line.startsWith('{"error"')) {
          throw new Error(`the server refused: ${(JSON.parse(line) as { error: string }).error}`);
        }
        yield line;
      }
    } finally {
      socket.destroy();
    }
  })();
}
