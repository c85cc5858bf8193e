import { ChatError } from './errors';
import { Outbox, type OutboxEntry, type OutboxEvents } from './outbox';
import type { Message } from './protocol';
import { memoryStorage, type StorageAdapter } from './storage';

function stored(entry: OutboxEntry, seq: number): Message {
  return {
    id: `id-${entry.clientId}`,
    roomId: entry.roomId,
    seq,
    role: 'user',
    senderId: 'me',
    content: entry.content,
    status: 'complete',
    clientId: entry.clientId,
    replyToId: null,
    createdAt: entry.createdAt,
    updatedAt: entry.createdAt,
  };
}

/** An outbox over a fake server that stores each clientId once, and answers with `script` first. */
function setUp(storage: StorageAdapter = memoryStorage(), script: (ChatError | 'ok')[] = []) {
  const server = new Map<string, Message>();
  const attempts: string[] = [];
  const sent: OutboxEvents['sent'][] = [];
  let connected = true;
  const sut = new Outbox({
    storage,
    storageKey: 'outbox',
    canSend: () => connected,
    backoffMs: () => 1,
    deliver: (entry) => {
      attempts.push(entry.clientId);
      const next = script.shift();
      if (next instanceof ChatError) {
        return Promise.reject(next);
      }
      const message = server.get(entry.clientId) ?? stored(entry, server.size + 1);
      server.set(entry.clientId, message);
      return Promise.resolve(message);
    },
    notify: (event, payload) => {
      if (event === 'sent') {
        sent.push(payload as OutboxEvents['sent']);
      }
    },
  });
  return { sut, server, attempts, sent, setConnected: (value: boolean) => (connected = value) };
}

const until = async (condition: () => boolean): Promise<void> => {
  while (!condition()) {
    await new Promise((resolve) => setImmediate(resolve));
  }
};

describe(Outbox.name, () => {
  it('should send queued messages in order, each once', async () => {
    const { sut, server, sent } = setUp();
    await sut.restore();

    const entries = ['a', 'b', 'c'].map((text) => sut.enqueue('room', text));
    await until(() => sent.length === 3);

    expect([...server.values()].map((m) => m.content)).toEqual(['a', 'b', 'c']);
    expect(sent.map((s) => s.entry.clientId)).toEqual(entries.map((e) => e.clientId));
    expect(sut.list).toEqual([]);
  });

  it('should retry a transient failure with the same clientId', async () => {
    const { sut, server, attempts, sent } = setUp(memoryStorage(), [new ChatError('TIMEOUT', 'no answer')]);
    await sut.restore();

    const entry = sut.enqueue('room', 'hello');
    await until(() => sent.length === 1);

    expect(attempts).toEqual([entry.clientId, entry.clientId]);
    expect(server.size).toBe(1);
  });

  it('should wait retryAfterMs on RATE_LIMITED and show why meanwhile', async () => {
    jest.useFakeTimers();
    try {
      const limited = new ChatError('RATE_LIMITED', 'slow down', { retryAfterMs: 5000 });
      const { sut, attempts, sent } = setUp(memoryStorage(), [limited]);
      await sut.restore();
      sut.enqueue('room', 'hello');
      await jest.advanceTimersByTimeAsync(4999);

      expect(attempts).toHaveLength(1);
      expect(sut.list[0]).toMatchObject({ state: 'queued', error: { code: 'RATE_LIMITED' } });

      await jest.advanceTimersByTimeAsync(1);
      expect(attempts).toHaveLength(2);
      expect(sent).toHaveLength(1);
    } finally {
      jest.useRealTimers();
    }
  });

  it('should mark a refused message failed and go on with the others', async () => {
    const refused = new ChatError('VALIDATION_FAILED', 'content is too long');
    const { sut, sent } = setUp(memoryStorage(), [refused]);
    await sut.restore();

    const bad = sut.enqueue('room', 'x'.repeat(5000));
    sut.enqueue('room', 'fine');
    await until(() => sent.length === 1);

    expect(sut.list).toEqual([expect.objectContaining({ clientId: bad.clientId, state: 'failed', error: refused })]);
    sut.discard(bad.clientId);
    expect(sut.list).toEqual([]);
  });

  it('should wait for the connection, then send', async () => {
    const { sut, sent, setConnected } = setUp();
    setConnected(false);
    await sut.restore();
    sut.enqueue('room', 'offline');
    await new Promise((resolve) => setImmediate(resolve));
    expect(sent).toHaveLength(0);

    setConnected(true);
    sut.flush();
    await until(() => sent.length === 1);
  });

  it('should restore what a previous run left unsent and deliver it once', async () => {
    const storage = memoryStorage();
    const first = setUp(storage);
    first.setConnected(false);
    await first.sut.restore();
    const queued = ['one', 'two'].map((text) => first.sut.enqueue('room', text));
    await first.sut.persisted();

    const second = setUp(storage);
    // The server had already stored "one" before the app died: its retry is answered as a duplicate.
    second.server.set(queued[0].clientId, stored(queued[0], 1));
    await second.sut.restore();
    second.sut.flush();
    await until(() => second.sent.length === 2);

    expect(second.sent.map((s) => s.entry.clientId)).toEqual(queued.map((e) => e.clientId));
    expect(second.server.size).toBe(2);
    await second.sut.persisted();
    expect(await storage.getItem('outbox')).toBeNull();
  });
});
