/**
 * Bench child processes driven by JSON lines: the parent writes a command line on the child's stdin and reads a
 * JSON line back from its stdout. `LineChild` is the parent's side; `commands` and `reply` are the child's.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

/** A child process (`node <bench dist>/<script> ...args`) that answers each JSON line on stdin with one on stdout. */
export class LineChild {
  readonly pid: number;
  private readonly child: ChildProcess;
  private readonly lines: AsyncIterator<string>;
  private stderr = '';
  private readonly exited: Promise<unknown>;

  constructor(script: string, args: string[]) {
    this.child = spawn(process.execPath, [join(__dirname, script), ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.pid = this.child.pid!;
    this.lines = createInterface({ input: this.child.stdout! })[Symbol.asyncIterator]();
    this.child.stderr!.on('data', (d: Buffer) => (this.stderr = (this.stderr + d.toString()).slice(-4000)));
    // 'close', not 'exit': by then every line the child printed has been read.
    this.exited = once(this.child, 'close');
  }

  /** The next line the child prints, parsed; throws when it exits first or takes longer than `timeoutMs`. */
  async next<T>(timeoutMs: number): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms: ${this.stderr}`)), timeoutMs);
    });
    const exit = this.exited.then(() => {
      throw new Error(`exited (${String(this.child.exitCode)}): ${this.stderr}`);
    });
    try {
      const line = await Promise.race([this.lines.next(), timeout, exit]);
      if (line.done) {
        throw new Error(`closed its output: ${this.stderr}`);
      }
      return JSON.parse(line.value) as T;
    } finally {
      clearTimeout(timer);
    }
  }

  send(cmd: unknown): void {
    this.child.stdin!.write(`${JSON.stringify(cmd)}\n`);
  }

  request<T>(cmd: unknown, timeoutMs: number): Promise<T> {
    this.send(cmd);
    return this.next<T>(timeoutMs);
  }

  /** Writes `cmd` (a request to finish) and waits up to `timeoutMs` for the child to exit by itself, then stops it. */
  async finish(cmd: unknown, timeoutMs: number): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.send(cmd);
      await Promise.race([this.exited, new Promise((resolve) => setTimeout(resolve, timeoutMs).unref())]);
    }
    await this.stop();
  }

  /** SIGTERM, and waits for the exit (nothing when it has exited already). */
  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGTERM');
      await this.exited;
    }
  }
}

/** The child's side: its stdin lines, one at a time. */
export function commands(): AsyncIterator<string> {
  return createInterface({ input: process.stdin })[Symbol.asyncIterator]();
}

/** The child's side: one JSON line on stdout. */
export function reply(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}
