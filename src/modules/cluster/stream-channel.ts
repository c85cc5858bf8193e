import type { PinoLogger } from 'nestjs-pino';
import type { RedisConnections } from './redis-connections';

/** How long one blocking read waits before it asks again. */
const BLOCK_MS = 5000;
const READ_COUNT = 200;

/**
 * An app-owned Redis stream that every instance reads from: what one instance publishes reaches every
 * instance, in publication order, and a reader that loses Redis for a moment resumes from its last offset
 * instead of losing what was published meanwhile. An entry is its publisher's id and its JSON, in two fields;
 * a reader skips its own instance's entries without parsing them (the publisher has used them already).
 */
export class StreamChannel<T> {
  private reader?: ReturnType<RedisConnections['reader']>;
  private stopped = false;

  constructor(
    private readonly redis: RedisConnections,
    /** This instance's id: its own entries are not handed back to it. */
    private readonly self: string,
    private readonly name: string,
    private readonly maxLen: number,
    private readonly logger: PinoLogger,
  ) {}

  /** Starts reading from the stream's current end; `onEntry` gets every other instance's entry from now on. */
  async start(onEntry: (entry: T) => void): Promise<void> {
    this.reader = this.redis.reader(this.name);
    // A concrete offset, not `$`: entries published between two reads are never skipped.
    let offset = '0-0';
    try {
      const [last] = (await this.reader.xrevrange(this.name, '+', '-', 'COUNT', 1)) as [string, string[]][];
      offset = last?.[0] ?? '0-0';
    } catch (error) {
      this.logger.warn({ err: error, stream: this.name }, 'stream end unknown: reading from its start');
    }
    void this.loop(offset, onEntry);
  }

  /** Publishes an entry; while Redis is away it waits in the publisher's queue and goes out, in order, when back. */
  publish(entry: T): void {
    this.redis.publisher
      .xadd(this.name, 'MAXLEN', '~', this.maxLen, '*', 'o', this.self, 'm', JSON.stringify(entry))
      .catch((error: unknown) => this.logger.warn({ err: error, stream: this.name }, 'stream publish failed'));
  }

  stop(): void {
    this.stopped = true;
    this.reader?.disconnect();
  }

  private async loop(from: string, onEntry: (entry: T) => void): Promise<void> {
    let offset = from;
    while (!this.stopped && this.reader) {
      try {
        const result = await this.reader.xread('COUNT', READ_COUNT, 'BLOCK', BLOCK_MS, 'STREAMS', this.name, offset);
        for (const [id, fields] of result?.[0]?.[1] ?? []) {
          offset = id;
          // fields: ['o', publisher, 'm', json]
          if (fields[1] === this.self) {
            continue;
          }
          try {
            onEntry(JSON.parse(fields[3]) as T);
          } catch (error) {
            this.logger.error({ err: error, stream: this.name }, 'stream entry not handled');
          }
        }
      } catch (error) {
        if (!this.stopped) {
          this.logger.warn({ err: error, stream: this.name }, 'stream read failed; retrying');
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
      }
    }
  }
}
