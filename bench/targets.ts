/** The processes the bench measures (the app, the relay, instances of a cluster) and the accounts it makes in them. */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { createInterface } from 'node:readline';

export interface Target {
  name: string;
  child: ChildProcess;
  url: string;
  /** SIGTERM (SIGKILL after 15 s); resolves with how the process ended. */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Spawns a node script that prints a JSON line `{ msg: "listening on port N", port }`; drains its output after, into
 * `logFile` when one is given (a profiled run keeps it: `--trace-gc` lines, the app's own log).
 */
export async function startTarget(
  name: string,
  args: string[],
  env: Record<string, string>,
  cwd: string,
  logFile?: string,
): Promise<Target> {
  const child = spawn(process.execPath, args, {
    cwd,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stderr: string[] = [];
  createInterface({ input: child.stderr }).on('line', (line) => stderr.length < 200 && stderr.push(line));
  const exited = once(child, 'exit');
  const log = logFile ? createWriteStream(logFile, { flags: 'a' }) : undefined;
  if (log) {
    void exited.then(() => log.end());
  }
  let listening = false;
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not listen within 60 s`)), 60_000);
    createInterface({ input: child.stdout }).on('line', (line) => {
      // Once listening, the log is drained unread (parsing it would cost the bench's CPU under a flood).
      if (listening) {
        log?.write(`${line}\n`);
        return;
      }
      try {
        const entry = JSON.parse(line) as { port?: unknown; msg?: unknown };
        if (typeof entry.port === 'number' && String(entry.msg).startsWith('listening on port')) {
          clearTimeout(timer);
          listening = true;
          resolve(entry.port);
        }
      } catch {
        // not JSON; ignored
      }
    });
    void exited.then(([code]) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${String(code)} before listening: ${stderr.join('\n')}`));
    });
  });
  return {
    name,
    child,
    url: `http://127.0.0.1:${port}`,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(timer);
      }
      return { code: child.exitCode, signal: child.signalCode };
    },
  };
}

async function api(url: string, path: string, body: unknown, token?: string): Promise<any> {
  const res = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  if (!res.ok) {
    throw new Error(`POST ${path} answered ${res.status}: ${text}`);
  }
  return text ? JSON.parse(text) : {};
}

export interface User {
  username: string;
  token: string;
  id: string;
}

export async function register(url: string, count: number, tag: string): Promise<User[]> {
  const users: User[] = [];
  for (let i = 0; i < count; i += 10) {
    const batch = Array.from({ length: Math.min(10, count - i) }, (_, j) => `b${tag}_${i + j}`);
    users.push(
      ...(await Promise.all(
        batch.map(async (username) => {
          const r = await api(url, '/api/auth/register', { username, password: 'bench-password' });
          return { username, token: r.accessToken as string, id: r.profile.id as string };
        }),
      )),
    );
  }
  return users;
}

export async function createRoom(url: string, owner: User, members: User[], mode: 'off' | 'always'): Promise<string> {
  const room = await api(url, '/api/rooms', { name: `bench ${mode}`, ai: { mode } }, owner.token);
  for (const m of members) {
    await api(url, `/api/rooms/${room.id}/members`, { username: m.username }, owner.token);
  }
  return room.id as string;
}
