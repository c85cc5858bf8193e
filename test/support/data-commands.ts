import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { ProcessRun } from './server-process';

const ROOT = join(__dirname, '..', '..');

export type DataCommand = 'export' | 'import' | 'validate' | 'migrate-data';

/** Starts `node dist/<command>.js args…` (what `npm run <command> -- args…` runs after building). */
export function spawnDataCommand(
  command: DataCommand,
  args: string[],
  env: Record<string, string>,
): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, [join(ROOT, 'dist', `${command}.js`), ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
  });
}

/** Runs a data command to its exit. */
export async function runDataCommand(
  command: DataCommand,
  args: string[],
  env: Record<string, string>,
): Promise<ProcessRun & { report: any }> {
  const child = spawnDataCommand(command, args, env);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const [code] = (await once(child, 'exit')) as [number | null];
  let report: any;
  try {
    report = JSON.parse(stdout.trim().split('\n').pop() ?? '');
  } catch {
    report = undefined;
  }
  return { code, stdout, stderr, report };
}

/** Resolves with the first stderr line of `child` that `matches`. */
export function stderrLine(child: ChildProcessWithoutNullStreams, matches: (line: string) => boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stderr });
    lines.on('line', (line) => {
      if (matches(line)) {
        lines.close();
        resolve(line);
      }
    });
    child.once('exit', (code) => reject(new Error(`exited with ${code} before the line`)));
  });
}
