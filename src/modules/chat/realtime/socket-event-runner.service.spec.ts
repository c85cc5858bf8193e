import { randomUUID } from 'node:crypto';
import { PinoLogger } from 'nestjs-pino';
import pino from 'pino';
import { Writable } from 'node:stream';
import { AppException } from '../../../common/errors/app.exception';
import { ErrorCode } from '../../../common/errors/error-code';
import { MetricsService } from '../../metrics/metrics.service';
import type { FloodGuard } from './flood-guard.service';
import { SocketEventRunner, type EventSocket } from './socket-event-runner.service';

/** Admits every event; never disconnects. */
class FakeFloodGuard {
  admit(): Promise<void> {
    return Promise.resolve();
  }
  malformed(): void {}
  exhausted(): boolean {
    return false;
  }
  cutOff(): void {}
}

function makeSocket(): EventSocket {
  return { id: randomUUID(), data: { user: { id: randomUUID() } }, connected: true, disconnect: () => undefined };
}

function makeHarness() {
  const metrics = new MetricsService();
  const logger = { setContext: () => undefined, logger: pino({ level: 'silent' }) };
  const sut = new SocketEventRunner(
    logger as unknown as PinoLogger,
    metrics,
    new FakeFloodGuard() as unknown as FloodGuard,
  );
  return { sut, metrics };
}

/** The histogram's samples for one event and outcome: its count, its sum, and its buckets by upper bound. */
async function durationOf(metrics: MetricsService, event: string, outcome: string) {
  const { values } = await metrics.socketEventDuration.get();
  const mine = values.filter((v) => v.labels.event === event && v.labels.outcome === outcome);
  const sample = (name: string) => mine.find((v) => v.metricName === name)?.value;
  const buckets = Object.fromEntries(
    mine
      .filter((v) => v.metricName === 'chat_socket_event_duration_seconds_bucket')
      .map((v) => [String((v.labels as { le?: number | string }).le), v.value]),
  );
  return {
    count: sample('chat_socket_event_duration_seconds_count'),
    sum: sample('chat_socket_event_duration_seconds_sum'),
    buckets,
  };
}

async function countOf(metrics: MetricsService, event: string, outcome: string): Promise<number | undefined> {
  const { values } = await metrics.socketEvents.get();
  return values.find((v) => v.labels.event === event && v.labels.outcome === outcome)?.value;
}

describe(SocketEventRunner.name, () => {
  afterEach(() => {
    jest.useRealTimers();
  });

  it('should time an acked event from its start to its ack, by event and outcome ok', async () => {
    jest.useFakeTimers();
    const { sut, metrics } = makeHarness();
    const ack = sut.run(
      'message:send',
      makeSocket(),
      () => new Promise((resolve) => setTimeout(() => resolve({}), 300)),
    );

    await jest.advanceTimersByTimeAsync(300);

    await expect(ack).resolves.toEqual({ ok: true });
    const duration = await durationOf(metrics, 'message:send', 'ok');
    expect(duration.count).toBe(1);
    expect(duration.sum).toBeCloseTo(0.3, 3);
    expect(duration.buckets).toMatchObject({ '0.25': 0, '0.5': 1, '+Inf': 1 });
    expect(await countOf(metrics, 'message:send', 'ok')).toBe(1);
  });

  it('should time a refused event under its error code, like the counter', async () => {
    const { sut, metrics } = makeHarness();

    const ack = await sut.run('room:join', makeSocket(), () => Promise.reject(AppException.notFound('Room')));

    expect(ack).toMatchObject({ ok: false, error: { code: ErrorCode.NOT_FOUND } });
    expect((await durationOf(metrics, 'room:join', ErrorCode.NOT_FOUND)).count).toBe(1);
    expect((await durationOf(metrics, 'room:join', 'ok')).count).toBeUndefined();
    expect(await countOf(metrics, 'room:join', ErrorCode.NOT_FOUND)).toBe(1);
  });

  it('should time a handler that threw something unexpected as INTERNAL', async () => {
    const { sut, metrics } = makeHarness();

    const ack = await sut.run('typing:update', makeSocket(), () => Promise.reject(new Error('a bug')));

    expect(ack).toMatchObject({ ok: false, error: { code: ErrorCode.INTERNAL } });
    expect((await durationOf(metrics, 'typing:update', ErrorCode.INTERNAL)).count).toBe(1);
  });

  describe('logging', () => {
    // nestjs-pino keeps the first logger it is given for the whole process: one root for these tests.
    const lines: Record<string, unknown>[] = [];
    const root = pino(
      { level: 'info' },
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          lines.push(
            ...chunk
              .toString()
              .trim()
              .split('\n')
              .map((line) => JSON.parse(line) as Record<string, unknown>),
          );
          done();
        },
      }),
    );

    /** A runner whose log lines (JSON, level `level`) are collected, and a service logging through nestjs-pino. */
    function makeLogged(level: pino.Level) {
      lines.length = 0;
      root.level = level;
      const params = { pinoHttp: { logger: root } };
      const sut = new SocketEventRunner(
        new PinoLogger(params),
        new MetricsService(),
        new FakeFloodGuard() as unknown as FloodGuard,
      );
      return { sut, lines, child: jest.spyOn(root, 'child'), service: new PinoLogger(params) };
    }

    afterEach(() => {
      jest.restoreAllMocks();
    });

    it('should carry the request id, event and user into what a handler logs', async () => {
      const { sut, lines, service } = makeLogged('info');
      const socket = makeSocket();

      const ack = await sut.run('room:join', socket, () => {
        service.info('joined');
        return Promise.reject(AppException.notFound('Room'));
      });

      const requestId = (ack as { error: { requestId: string } }).error.requestId;
      expect(lines.map(({ msg, requestId: id, event, userId }) => ({ msg, id, event, userId }))).toEqual([
        { msg: 'joined', id: requestId, event: 'room:join', userId: socket.data.user.id },
        { msg: 'event refused', id: requestId, event: 'room:join', userId: socket.data.user.id },
      ]);
    });

    it('should make no logger for an event that logs nothing at the level set', async () => {
      const { sut, lines, child } = makeLogged('info');

      await expect(sut.run('message:send', makeSocket(), () => Promise.resolve({ seq: 1 }))).resolves.toEqual({
        ok: true,
        seq: 1,
      });

      expect(lines).toEqual([]);
      expect(child).not.toHaveBeenCalled();
    });

    it('should log a handled event with its duration at debug level', async () => {
      const { sut, lines } = makeLogged('debug');
      const socket = makeSocket();

      await sut.run('typing:update', socket, () => Promise.resolve({}));

      expect(lines).toEqual([
        expect.objectContaining({ msg: 'event handled', event: 'typing:update', userId: socket.data.user.id }),
      ]);
      expect(lines[0].durationMs).toEqual(expect.any(Number));
      expect(lines[0].requestId).toEqual(expect.any(String));
    });
  });
});
