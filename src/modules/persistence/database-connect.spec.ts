import { randomUUID } from 'node:crypto';
import { StartupError } from '../../config/startup-error';
import { targetOf, waitForDatabase, type ConnectRetry } from './database-connect';
import { CallTimeoutError } from './drivers/pg-connection';

function makeUrl(): { url: string; password: string } {
  const password = `pw-${randomUUID()}`;
  return { url: `postgres://chat:${password}@db.internal:6543/chat`, password };
}

function refused(code = 'ECONNREFUSED'): Error {
  return Object.assign(new Error(`connect ${code} 10.0.0.7:6543`), { code });
}

/** A ping that fails with each of `failures` in turn, then answers; counts its calls. */
function makePing(failures: Error[]): { ping: (timeoutMs: number) => Promise<void>; calls: number[] } {
  const calls: number[] = [];
  return {
    calls,
    ping: (timeoutMs) => {
      calls.push(timeoutMs);
      const failure = failures[calls.length - 1];
      return failure === undefined ? Promise.resolve() : Promise.reject(failure);
    },
  };
}

async function startupErrorOf(work: Promise<unknown>): Promise<StartupError> {
  try {
    await work;
  } catch (error) {
    if (error instanceof StartupError) {
      return error;
    }
    throw error;
  }
  throw new Error('did not throw');
}

const FAST = { initialDelayMs: 5, maxDelayMs: 40 };

describe(waitForDatabase.name, () => {
  it('should resolve after one attempt when the database answers', async () => {
    const { ping, calls } = makePing([]);
    const retries: ConnectRetry[] = [];

    await waitForDatabase(makeUrl().url, ping, { timeoutMs: 1000, onRetry: (r) => retries.push(r), ...FAST });

    expect(calls).toHaveLength(1);
    expect(retries).toEqual([]);
  });

  it('should wait for a database that is not up yet, reporting each retry with its attempt and delay', async () => {
    const { ping, calls } = makePing([
      refused(),
      refused(),
      Object.assign(new Error('starting up'), { code: '57P03' }),
    ]);
    const retries: ConnectRetry[] = [];

    await waitForDatabase(makeUrl().url, ping, { timeoutMs: 5000, onRetry: (r) => retries.push(r), ...FAST });

    expect(calls).toHaveLength(4);
    expect(retries).toEqual([
      { attempt: 1, delayMs: expect.any(Number), reason: 'ECONNREFUSED' },
      { attempt: 2, delayMs: expect.any(Number), reason: 'ECONNREFUSED' },
      { attempt: 3, delayMs: expect.any(Number), reason: '57P03' },
    ]);
    expect(retries.every((r) => r.delayMs >= 0 && r.delayMs <= FAST.maxDelayMs)).toBe(true);
  });

  it('should give up after timeoutMs with one line naming DATABASE_URL, host:port, the cause and what to do', async () => {
    const { url, password } = makeUrl();
    const { ping, calls } = makePing(Array.from({ length: 1000 }, () => refused()));
    const started = performance.now();

    const sut = await startupErrorOf(waitForDatabase(url, ping, { timeoutMs: 400, onRetry: () => undefined, ...FAST }));

    const elapsedMs = performance.now() - started;
    expect(sut.message).toBe(
      `DATABASE_URL: cannot reach the database at db.internal:6543 (ECONNREFUSED) after ${calls.length} attempts over 0 s; check it is up and reachable`,
    );
    expect(sut.message).not.toContain(password);
    expect(elapsedMs).toBeGreaterThanOrEqual(390);
    expect(elapsedMs).toBeLessThan(400 + 200);
  });

  it('should never give one attempt more time than is left of the wait', async () => {
    const { ping, calls } = makePing(Array.from({ length: 1000 }, () => refused()));

    await startupErrorOf(
      waitForDatabase(makeUrl().url, ping, {
        timeoutMs: 300,
        attemptTimeoutMs: 5000,
        onRetry: () => undefined,
        ...FAST,
      }),
    );

    expect(Math.max(...calls)).toBeLessThanOrEqual(300);
  });

  it('should call a database that does not answer in time a timeout', async () => {
    const { ping } = makePing(Array.from({ length: 1000 }, () => new CallTimeoutError(5)));

    const sut = await startupErrorOf(
      waitForDatabase(makeUrl().url, ping, { timeoutMs: 200, onRetry: () => undefined, ...FAST }),
    );

    expect(sut.message).toMatch(/^DATABASE_URL: cannot reach the database at db\.internal:6543 \(timeout\) after /);
  });

  it('should read the code of a name whose every address refused', async () => {
    const retries: ConnectRetry[] = [];
    const { ping } = makePing([new AggregateError([refused(), refused()], 'all failed')]);

    await waitForDatabase(makeUrl().url, ping, { timeoutMs: 1000, onRetry: (r) => retries.push(r), ...FAST });

    expect(retries.map((r) => r.reason)).toEqual(['ECONNREFUSED']);
  });

  it.each([
    ['3D000', 'database "chat" does not exist', 'create the database or fix its name in DATABASE_URL'],
    ['28P01', 'password authentication failed for user "chat"', 'check the user and password in DATABASE_URL'],
    ['08P01', 'unsupported frontend protocol', 'check DATABASE_URL'],
  ])('should refuse at once, without retrying, when the server answers %s', async (code, message, advice) => {
    const { ping, calls } = makePing([Object.assign(new Error(message), { code })]);

    const sut = await startupErrorOf(
      waitForDatabase(makeUrl().url, ping, { timeoutMs: 5000, onRetry: () => undefined, ...FAST }),
    );

    expect(calls).toHaveLength(1);
    expect(sut.message).toBe(
      `DATABASE_URL: the database at db.internal:6543 refused the connection (${code}: ${message}); ${advice}`,
    );
  });

  it('should keep the password out of the line even when a message holds it', async () => {
    const { url, password } = makeUrl();
    const { ping } = makePing([new Error(`bad\nthing with ${password}`)]);

    const sut = await startupErrorOf(waitForDatabase(url, ping, { timeoutMs: 5000, onRetry: () => undefined }));

    expect(sut.message).toBe(
      'DATABASE_URL: the database at db.internal:6543 refused the connection (bad thing with ***); check DATABASE_URL',
    );
  });
});

describe(targetOf.name, () => {
  it.each([
    ['postgres://chat:pw@db.internal:6543/chat', 'db.internal:6543'],
    ['postgresql://chat@db.internal/chat', 'db.internal:5432'],
    ['postgres://[::1]:5433/chat', '[::1]:5433'],
    ['postgresql:///chat?host=/var/run/postgresql', '/var/run/postgresql:5432'],
  ])('should read %s as %s', (url, expected) => {
    expect(targetOf(url)).toBe(expected);
  });
});
