/**
 * Helpers for the AI reply suites (test/ai/*.e2e-spec.ts): rooms with an AI mode, a log of the events a
 * socket receives with a way to await one reply from `message:new` to its final `message:updated`, and
 * shape checks of PROTOCOL.md §3–§5.
 */
import { randomBytes } from 'node:crypto';
import type { Socket } from 'socket.io-client';
import { startFakeOpenAi, type FakeOpenAi } from './fake-openai';
import { ack, type SocketPool } from './socket-client';
import { useTestApp, type AppUnderTest } from './test-app';

export { SocketPool } from './socket-client';
import type { TestUser } from './http-client';
import { storedMessages } from './chat-api';

import { ISO_UTC, UUID } from './chat-api';

export { ISO_UTC, UUID };

/** A UUID that names nothing. */
export const UNKNOWN_ID = '6d1f4c2a-9b3e-4f7a-8c5d-1e2f3a4b5c6d';

export type AiMode = 'off' | 'mention' | 'always';

/** A short unique tag, so text from one test can be told apart from any other's. */
export function uniqueTag(prefix = 't'): string {
  return `${prefix}${randomBytes(5).toString('hex')}`;
}

/** A room created over REST with the given AI settings (private unless told). */
export async function createAiRoom(
  owner: TestUser,
  ai: { mode?: AiMode; systemPrompt?: string; model?: string },
  options: { name?: string; visibility?: 'private' | 'public' } = {},
): Promise<any> {
  const { name = `ai ${uniqueTag()}`, visibility = 'private' } = options;
  const res = await owner.http.post('/api/rooms', { name, visibility, ai });
  if (res.status !== 201) {
    throw new Error(`create room failed: ${res.status} ${JSON.stringify(res.body)}`);
  }
  return res.body;
}

export { addMembers, postMessage, storedMessages } from './chat-api';

/** The stored message with this id, as `user` reads it back. */
export async function storedMessage(user: TestUser, roomId: string, id: string): Promise<any> {
  const found = (await storedMessages(user, roomId)).find((m) => m.id === id);
  if (!found) {
    throw new Error(`message ${id} is not stored in room ${roomId}`);
  }
  return found;
}

/** An app under test with the fake provider it is configured with (see `useAiApp`). */
export interface AiApp extends AppUnderTest {
  /** The fake OpenAI-compatible provider (absent with `provider: false`). */
  readonly fake: FakeOpenAi;
}

/**
 * `useTestApp` with a fake provider: started before the app, which gets `OPENAI_API_KEY` and `OPENAI_BASE_URL` for it
 * (then `env`), and closed after all. With `provider: false` the app has no AI provider configured.
 */
export function useAiApp(env: Record<string, string> = {}, options: { provider?: boolean } = {}): AiApp {
  let fake: FakeOpenAi | undefined;
  if (options.provider !== false) {
    beforeAll(async () => {
      fake = await startFakeOpenAi();
    });
    afterAll(async () => {
      await fake?.close();
    });
  }
  const app = useTestApp(() => (fake ? { OPENAI_API_KEY: 'test-key', OPENAI_BASE_URL: fake.url, ...env } : env));
  return {
    get app() {
      return app.app;
    },
    get url() {
      return app.url;
    },
    get urls() {
      return app.urls;
    },
    get config() {
      return app.config;
    },
    sockets: app.sockets,
    get fake() {
      if (!fake) {
        throw new Error('no fake provider (not started, or provider: false)');
      }
      return fake;
    },
  };
}

/** A promise the test resolves itself (the fake's `gate` step waits on one). */
export interface Gate {
  release: Promise<void>;
  open(): void;
}

export function gate(): Gate {
  let open = (): void => undefined;
  const release = new Promise<void>((resolve) => (open = resolve));
  return { release, open };
}

/** Rejects when `promise` has not settled within `ms` (a failure report, never a wait). */
export function within<T>(promise: Promise<T>, label: string, ms = 10_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${label}: not within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** One reply as a socket saw it: its `message:new`, its deltas, its final `message:updated`, and where in the log. */
export interface SeenReply {
  created: any;
  deltas: any[];
  final: any;
  createdAt: number;
  finalAt: number;
}

type Entry = [event: string, payload: any];

/**
 * Every event a socket receives from now on, in order, with awaitable matches (a match that already
 * arrived resolves at once).
 */
export class EventLog {
  readonly entries: Entry[] = [];
  private readonly waiters: { match: (entry: Entry) => boolean; resolve: (index: number) => void }[] = [];

  constructor(socket: Socket) {
    socket.onAny((event: string, payload: unknown) => {
      this.entries.push([event, payload]);
      const index = this.entries.length - 1;
      for (const waiter of [...this.waiters]) {
        if (waiter.match(this.entries[index])) {
          this.waiters.splice(this.waiters.indexOf(waiter), 1);
          waiter.resolve(index);
        }
      }
    });
  }

  /** The index of the first entry from `from` on that matches. */
  waitFor(match: (event: string, payload: any) => boolean, label: string, from = 0): Promise<number> {
    const index = this.entries.findIndex((entry, i) => i >= from && match(...entry));
    if (index >= 0) {
      return Promise.resolve(index);
    }
    return within(
      new Promise<number>((resolve) => this.waiters.push({ match: (entry) => match(...entry), resolve })),
      `waiting for ${label}`,
    );
  }

  /** The payloads of `event` received so far. */
  of(event: string): any[] {
    return this.entries.filter(([name]) => name === event).map(([, payload]) => payload);
  }

  /** The `message:new` of the assistant reply to `questionId`. */
  async replyStarted(questionId: string): Promise<any> {
    const at = await this.waitFor(
      (event, p) => event === 'message:new' && p?.message?.role === 'assistant' && p.message.replyToId === questionId,
      `the reply to ${questionId}`,
    );
    return this.entries[at][1].message;
  }

  /** The first `message:delta` of a message. */
  async firstDelta(messageId: string): Promise<any> {
    const at = await this.waitFor(
      (event, p) => event === 'message:delta' && p?.messageId === messageId,
      `a delta of ${messageId}`,
    );
    return this.entries[at][1];
  }

  /** The reply to `questionId` from `message:new` to its final `message:updated`. */
  async reply(questionId: string): Promise<SeenReply> {
    const created = await this.replyStarted(questionId);
    const createdAt = this.entries.findIndex(([event, p]) => event === 'message:new' && p?.message?.id === created.id);
    const finalAt = await this.waitFor(
      (event, p) => event === 'message:updated' && p?.message?.id === created.id && p.message.status !== 'streaming',
      `the end of reply ${created.id}`,
    );
    const deltas = this.entries
      .slice(createdAt, finalAt)
      .filter(([event, p]) => event === 'message:delta' && p?.messageId === created.id)
      .map(([, p]) => p);
    return { created, deltas, final: this.entries[finalAt][1].message, createdAt, finalAt };
  }

  /**
   * The rest of a reply a late joiner holds the start of (`held`, the text its `room:join` ack gave): its deltas,
   * contiguous from `held.length`, up to its final `message:updated`. The whole text they make, and the final message.
   */
  async rest(roomId: string, messageId: string, held: string): Promise<{ text: string; final: any }> {
    const finalAt = await this.waitFor(
      (event, p) => event === 'message:updated' && p?.message?.id === messageId && p.message.status !== 'streaming',
      `the end of reply ${messageId}`,
    );
    const deltas = this.entries
      .slice(0, finalAt)
      .filter(([event, p]) => event === 'message:delta' && p?.messageId === messageId)
      .map(([, p]) => p);
    return {
      text: held + expectContiguous(deltas, roomId, messageId, held.length),
      final: this.entries[finalAt][1].message,
    };
  }
}

/** Asserts PROTOCOL.md §4 delta offsets (each at the length of what came before) and returns the text they carry. */
export function expectContiguous(deltas: any[], roomId: string, messageId: string, start = 0): string {
  let text = '';
  for (const delta of deltas) {
    expect(delta).toEqual({ roomId, messageId, offset: start + text.length, delta: expect.any(String) });
    expect(delta.delta.length).toBeGreaterThan(0);
    text += delta.delta;
  }
  return text;
}

/** PROTOCOL.md §3/§5: an assistant message as `message:new` announces it (streaming, empty). */
export function expectStartedReply(message: any, question: { id: string; roomId: string; seq: number }): void {
  expect(message).toEqual({
    id: expect.stringMatching(UUID),
    roomId: question.roomId,
    seq: question.seq + 1,
    rev: expect.any(Number),
    role: 'assistant',
    senderId: null,
    content: '',
    status: 'streaming',
    clientId: null,
    replyToId: question.id,
    createdAt: expect.stringMatching(ISO_UTC),
    updatedAt: expect.stringMatching(ISO_UTC),
    version: 1,
  });
}

/** The final state of a reply that failed with `code`. */
export function expectFailedReply(message: any, code: string, content = ''): void {
  expect({ status: message.status, content: message.content, code: message.error?.code }).toEqual({
    status: 'failed',
    content,
    code,
  });
  expect(Object.keys(message.error).sort()).toEqual(['code', 'message']);
  expect(typeof message.error.message).toBe('string');
  expect(message.error.message.length).toBeGreaterThan(0);
  expect(message.error.message).not.toMatch(/\bat .+:\d+:\d+|test-key|select |stack/i);
}

/** Asserts `{ ok: false, error: { code, message, requestId, details? } }` (PROTOCOL.md §2). */
export function expectErrorAck(ack: any, code: string, field?: string): void {
  expect(Object.keys(ack ?? {}).sort()).toEqual(['error', 'ok']);
  expect(ack.ok).toBe(false);
  expect(ack.error.code).toBe(code);
  expect(typeof ack.error.message).toBe('string');
  expect(ack.error.message.length).toBeGreaterThan(0);
  expect(ack.error.requestId).toMatch(/^[A-Za-z0-9._:-]{1,128}$/);
  if (code === 'VALIDATION_FAILED') {
    expect(ack.error.details.length).toBeGreaterThan(0);
    for (const detail of ack.error.details) {
      expect(detail).toEqual({ field: expect.any(String), message: expect.any(String) });
    }
    if (field) {
      expect(ack.error.details.map((d: any) => d.field)).toContain(field);
    }
  }
}

/** The chat messages of a request the fake received, without the system prompt. */
export function conversationOf(body: any): { role: string; content: string }[] {
  return (body.messages as { role: string; content: string }[]).filter((m) => m.role !== 'system');
}

/** A socket of `user` that has joined the room, with the log of what it receives from before the join. */
export interface RoomWatcher {
  socket: Socket;
  log: EventLog;
  joined: any;
}

export async function watchRoom(pool: SocketPool, user: TestUser, roomId: string): Promise<RoomWatcher> {
  const socket = await pool.open(user);
  const log = new EventLog(socket);
  const joined = await ack(socket, 'room:join', { roomId });
  if (joined?.ok !== true) {
    throw new Error(`room:join failed: ${JSON.stringify(joined)}`);
  }
  return { socket, log, joined };
}
