import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const ROOT = join(__dirname, '..', '..');

export interface ServerProcess {
  child: ChildProcessWithoutNullStreams;
  url: string;
  /** Every JSON log line the process printed so far. */
  lines: Record<string, unknown>[];
  stderr: string[];
  /** Sends a signal and resolves with the exit code (and signal) once the process is gone. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Runs the built server (`node dist/main.js`, what `npm start` runs after building) on a free port. */
export async function startServerProcess(env: Record<string, string>): Promise<ServerProcess> {
  const child = spawn(process.execPath, ['dist/main.js'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', PORT: '0', LOG_LEVEL: 'info', ...env },
  });
  const lines: Record<string, unknown>[] = [];
  const stderr: string[] = [];
  createInterface({ input: child.stderr }).on('line', (line) => stderr.push(line));
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  const port = await new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      try {
        const entry = JSON.parse(line) as Record<string, unknown>;
        lines.push(entry);
        if (typeof entry.port === 'number' && String(entry.msg).startsWith('listening on port')) {
          resolve(entry.port);
        }
      } catch {
        lines.push({ raw: line });
      }
    });
    void exited.then(([code]) =>
      reject(new Error(`server exited with ${code} before listening: ${stderr.join('\n')}`)),
    );
  });
  return {
    child,
    url: `http://127.0.0.1:${port}`,
    lines,
    stderr,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill(signal);
      }
      const [code, sig] = await exited;
      return { code, signal: sig };
    },
  };
}

/** What a process printed, and how it exited. */
export interface ProcessRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a built script (`dist/<name>.js`, a path from the repository's root) with `args` to its exit, with only `env`
 * (and PATH, HOME) in its environment.
 */
export async function runToExit(
  script: string,
  env: Record<string, string>,
  cwd = ROOT,
  args: string[] = [],
): Promise<ProcessRun> {
  const child = spawn(process.execPath, [join(ROOT, script), ...args], {
    cwd,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stdout, stderr };
}

/** Runs the built server expecting it to refuse to start; resolves with its exit code and what it printed. */
export function failedStart(env: Record<string, string>): Promise<ProcessRun> {
  return runToExit('dist/main.js', { PORT: '0', ...env });
}

/** `node dist/migrate.js`, what `npm run migrate` runs after building, in `cwd` (where a `.env` would be read). */
export function runMigrate(env: Record<string, string>, cwd = ROOT): Promise<ProcessRun> {
  return runToExit('dist/migrate.js', env, cwd);
}
