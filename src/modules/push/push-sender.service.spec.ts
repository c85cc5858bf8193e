import type { ExpoPushTicket } from 'expo-server-sdk';
import type { PinoLogger } from 'nestjs-pino';
import type { AppConfig } from '../../config/app-config';
import type { MetricsService } from '../metrics/metrics.service';
import type { DevicesRepository } from './devices.repository';
import type { ExpoPushClient, PushMessage } from './expo-push.client';
import { PushSender } from './push-sender.service';

/** A request to the push service that the test answers when it likes. */
interface Pending {
  chunk: PushMessage[];
  answer(tickets: ExpoPushTicket[]): void;
  fail(error: unknown): void;
}

function harness(timeoutMs = 10_000) {
  const waiting: ((request: Pending) => void)[] = [];
  const client = {
    chunk: (messages: PushMessage[]) => [messages],
    chunkReceiptIds: (ids: string[]) => [ids],
    receipts: jest.fn(() => Promise.resolve({})),
    send: jest.fn(
      (chunk: PushMessage[]) =>
        new Promise<ExpoPushTicket[]>((resolve, reject) => {
          waiting.shift()?.({ chunk, answer: resolve, fail: reject });
        }),
    ),
  };
  const devices = { removeTokens: jest.fn(() => Promise.resolve()) };
  const counter = () => ({ inc: jest.fn() });
  const metrics = { pushNotifications: counter(), pushReceipts: counter() };
  const logger = { info: jest.fn(), warn: jest.fn(), error: jest.fn() };
  const config = { push: { maxAttempts: 3, retryBaseMs: 10, receiptDelayMs: 60_000, timeoutMs } };
  const sender = new PushSender(
    logger as unknown as PinoLogger,
    config as unknown as AppConfig,
    client as unknown as ExpoPushClient,
    devices as unknown as DevicesRepository,
    metrics as unknown as MetricsService,
  );
  /** The next request to the push service, once it is made (ask before it is). */
  const nextRequest = (): Promise<Pending> => new Promise((resolve) => waiting.push(resolve));
  return { sender, client, devices, metrics, nextRequest };
}

/** Whether `promise` settled by the time the work already queued (this turn, microtasks, I/O callbacks) has run. */
async function settledNow(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  void promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  await new Promise((resolve) => setImmediate(resolve));
  return settled;
}

const MESSAGE: PushMessage = { to: 'ExponentPushToken[gone]', title: 'a room', body: 'hello' };

describe('PushSender at shutdown', () => {
  it('should wait for a request under way, then read its tickets and remove an unregistered token', async () => {
    const { sender, devices, nextRequest } = harness();
    const request = nextRequest();
    sender.send([MESSAGE]);
    const pending = await request;

    const shutdown = sender.beforeApplicationShutdown();
    expect(await settledNow(shutdown)).toBe(false);

    pending.answer([{ status: 'error', message: 'gone', details: { error: 'DeviceNotRegistered' } }]);
    await shutdown;
    expect(devices.removeTokens).toHaveBeenCalledWith([MESSAGE.to]);
  });

  it('should try a failed request no more once shutdown has begun', async () => {
    const { sender, client, metrics, nextRequest } = harness();
    const request = nextRequest();
    sender.send([MESSAGE]);
    const pending = await request;

    const shutdown = sender.beforeApplicationShutdown();
    pending.fail(Object.assign(new Error('unavailable'), { statusCode: 503 }));
    await shutdown;

    expect(client.send).toHaveBeenCalledTimes(1);
    expect(metrics.pushNotifications.inc).toHaveBeenCalledWith({ outcome: 'failed' }, 1);
  });

  it('should stop waiting after PUSH_TIMEOUT_MS for a request that never answers', async () => {
    const { sender, nextRequest } = harness(50);
    const request = nextRequest();
    sender.send([MESSAGE]);
    await request;

    await expect(sender.beforeApplicationShutdown()).resolves.toBeUndefined();
  });

  it('should send nothing queued after shutdown', async () => {
    const { sender, client } = harness();
    await sender.beforeApplicationShutdown();

    sender.send([MESSAGE]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(client.send).not.toHaveBeenCalled();
  });
});
