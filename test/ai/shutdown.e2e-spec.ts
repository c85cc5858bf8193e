import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFakeOpenAi, type FakeOpenAi } from '../support/fake-openai';
import { signIn, signUp } from '../support/http-client';
import { startServerProcess, type ServerProcess } from '../support/server-process';
import { ack, connectSocket, nextEvent } from '../support/socket-client';
import { startTestApp } from '../support/test-app';
import { createAiRoom, gate, postMessage, storedMessages } from '../support/ai-helpers';

/** No reply stays `streaming` forever: a stop stores it as it stands, a crash is mended at the next start. */
describe('AI replies across a stop', () => {
  let fake: FakeOpenAi;
  let dataDir: string;

  beforeAll(async () => {
    fake = await startFakeOpenAi();
  });

  afterAll(() => fake.close());

  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'chat-ai-stop-'));
  });

  afterEach(() => rm(dataDir, { recursive: true, force: true }));

  it('should store a reply in flight as failed / AI_FAILED with its text when the server shuts down', async () => {
    const env = { DATA_DIR: dataDir, OPENAI_API_KEY: 'test-key', OPENAI_BASE_URL: fake.url };
    const first = await startTestApp(env);
    const owner = await signUp(first.url, 'stop');
    const room = await createAiRoom(owner, { mode: 'always' });
    const socket = await connectSocket(first.url, owner.token);
    await ack(socket, 'room:join', { roomId: room.id });
    const release = gate();
    fake.script({ kind: 'gate', chunks: ['The first half', ' and the rest'], release: release.release });
    const firstDelta = nextEvent(socket, 'message:delta');
    const question = await postMessage(owner, room.id, 'tell me');
    const delta = await firstDelta;

    const ended = nextEvent(socket, 'message:updated');
    await first.close();
    release.open();
    const final = await ended;

    expect(final.message).toMatchObject({
      id: delta.messageId,
      replyToId: question.id,
      status: 'failed',
      content: 'The first half',
      error: { code: 'AI_FAILED', message: expect.any(String) },
    });
    socket.close();
    const second = await startTestApp(env);
    try {
      const messages = await storedMessages(await signIn(second.url, owner), room.id);
      expect(messages.map((m) => [m.seq, m.role, m.status, m.content])).toEqual([
        [1, 'user', 'complete', 'tell me'],
        [2, 'assistant', 'failed', 'The first half'],
      ]);
    } finally {
      await second.close();
    }
  });

  it('should mark a reply a killed process left streaming as failed at the next start', async () => {
    const env = {
      DATA_DIR: dataDir,
      OPENAI_API_KEY: 'test-key',
      OPENAI_BASE_URL: fake.url,
      RATE_AUTH_PER_MINUTE: '1000',
      LOG_LEVEL: 'info',
    };
    let server: ServerProcess = await startServerProcess(env);
    try {
      const owner = await signUp(server.url, 'crash');
      const room = await createAiRoom(owner, { mode: 'always' });
      const socket = await connectSocket(server.url, owner.token);
      await ack(socket, 'room:join', { roomId: room.id });
      fake.script({ kind: 'stall', chunks: ['Half a thought'] });
      const firstDelta = nextEvent(socket, 'message:delta');
      await postMessage(owner, room.id, 'think');
      const delta = await firstDelta;
      socket.close();
      expect(await server.stop('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });

      server = await startServerProcess(env);
      const messages = await storedMessages(await signIn(server.url, owner), room.id);
      expect(messages.find((m) => m.id === delta.messageId)).toMatchObject({
        status: 'failed',
        error: { code: 'AI_FAILED', message: 'The server writing this reply stopped' },
      });
      expect(server.lines.some((line) => line.msg === 'AI replies of a stopped server marked failed')).toBe(true);
    } finally {
      await server.stop('SIGKILL');
    }
  });

  it('should answer the questions still waiting when a killed server starts again, in order', async () => {
    const env = {
      DATA_DIR: dataDir,
      OPENAI_API_KEY: 'test-key',
      OPENAI_BASE_URL: fake.url,
      RATE_AUTH_PER_MINUTE: '1000',
      LOG_LEVEL: 'info',
    };
    let server: ServerProcess = await startServerProcess(env);
    try {
      const owner = await signUp(server.url, 'wait');
      const room = await createAiRoom(owner, { mode: 'always' });
      const socket = await connectSocket(server.url, owner.token);
      await ack(socket, 'room:join', { roomId: room.id });
      fake.script({ kind: 'stall', chunks: ['Thinking'] });
      const firstDelta = nextEvent(socket, 'message:delta');
      const first = await postMessage(owner, room.id, 'first');
      await firstDelta;
      const second = await postMessage(owner, room.id, 'second');
      const third = await postMessage(owner, room.id, 'third');
      socket.close();
      await server.stop('SIGKILL');
      const before = fake.requests.length;
      fake.script({ kind: 'stream', chunks: ['Answer two'] }, { kind: 'stream', chunks: ['Answer three'] });

      server = await startServerProcess(env);
      const returning = await signIn(server.url, owner);
      const again = await connectSocket(server.url, returning.token);
      try {
        const lastEnded = nextEvent(
          again,
          'message:updated',
          (p) => p.message.replyToId === third.id && p.message.status !== 'streaming',
        );
        const joined = await ack(again, 'room:join', { roomId: room.id });
        if (!joined.messages.some((m: any) => m.replyToId === third.id && m.status !== 'streaming')) {
          await lastEnded;
        } else {
          lastEnded.catch(() => undefined);
        }
      } finally {
        again.close();
      }

      const messages = await storedMessages(returning, room.id);
      expect(messages.map((m) => [m.seq, m.role, m.status, m.content, m.replyToId])).toEqual([
        [1, 'user', 'complete', 'first', null],
        [2, 'assistant', 'failed', '', first.id],
        [3, 'user', 'complete', 'second', null],
        [4, 'user', 'complete', 'third', null],
        [5, 'assistant', 'complete', 'Answer two', second.id],
        [6, 'assistant', 'complete', 'Answer three', third.id],
      ]);
      const asked = fake.requests.slice(before).map((r) => r.body.messages.at(-1).content);
      expect(asked).toEqual(['second', 'third']);
    } finally {
      await server.stop('SIGKILL');
    }
  });
});
