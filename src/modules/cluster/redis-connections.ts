import Redis, { type RedisOptions } from 'ioredis';

/** How long a start waits for Redis before it goes on degraded (the instance serves; fan-out waits for Redis). */
const CONNECT_WAIT_MS = 5000;

/**
 * The Redis connections of one instance, each for one kind of use:
 * - `commands`: live state (presence, typing, limits, partial replies). No offline queue: while Redis is away
 *   a command fails at once and the caller falls back to what this instance knows, instead of waiting.
 * - `publisher`: what other instances must receive (Socket.IO fan-out, the room feed). Commands issued while
 *   Redis is away are queued and sent in order when it is back.
 * - `reader()`: a new connection for a blocking read (a stream), one per reader.
 */
export class RedisConnections {
  readonly commands: Redis;
  readonly publisher: Redis;
  private readonly readers: Redis[] = [];
  private readonly reconnectHandlers: (() => void)[] = [];
  private wasDown = false;

  constructor(
    private readonly url: string,
    private readonly instanceId: string,
  ) {
    this.commands = this.open('commands', { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
    this.publisher = this.open('publisher', { maxRetriesPerRequest: null });
    // Both connections see the same server: one of them tells when it went away and when it is back.
    this.commands.on('close', () => {
      this.wasDown = true;
    });
    this.commands.on('ready', () => {
      if (this.wasDown) {
        this.wasDown = false;
        this.reconnectHandlers.forEach((handler) => handler());
      }
    });
  }

  /** True while the state connection is up. */
  get up(): boolean {
    return this.commands.status === 'ready';
  }

  /** Called each time Redis comes back after being away (not at the first connect). */
  onReconnect(handler: () => void): void {
    this.reconnectHandlers.push(handler);
  }

  /** Resolves when Redis answers, or after a few seconds without it (the instance then starts degraded). */
  async ready(): Promise<boolean> {
    if (this.up) {
      return true;
    }
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        this.commands.off('ready', onReady);
        resolve(false);
      }, CONNECT_WAIT_MS);
      const onReady = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.commands.once('ready', onReady);
    });
  }

  /** A dedicated connection for blocking reads (XREAD BLOCK holds its connection). */
  reader(name: string): Redis {
    const reader = this.open(name, { maxRetriesPerRequest: null });
    this.readers.push(reader);
    return reader;
  }

  async close(): Promise<void> {
    const all = [this.commands, this.publisher, ...this.readers];
    await Promise.allSettled(all.map((c) => (c.status === 'ready' ? c.quit() : Promise.resolve(c.disconnect()))));
  }

  private open(role: string, options: RedisOptions): Redis {
    const client = new Redis(this.url, {
      connectionName: `chat:${this.instanceId.slice(0, 8)}:${role}`,
      // Reconnect for ever, at most 1 s apart: Redis away is degraded, not down.
      retryStrategy: (attempt) => Math.min(attempt * 100, 1000),
      ...options,
    });
    // An unreachable Redis is reported by readiness; ioredis keeps reconnecting. Nothing here may crash.
    client.on('error', () => undefined);
    return client;
  }
}
