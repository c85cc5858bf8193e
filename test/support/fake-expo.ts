/**
 * A fake Expo push service (node:http) for tests that drive the real `expo-server-sdk` (the app's PUSH_EXPO_URL points
 * here). `POST /--/api/v2/push/send` answers one ticket per notification; `POST /--/api/v2/push/getReceipts` one
 * receipt per ticket id it issued. Bodies may come gzipped, as the SDK sends large ones.
 */
import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

/** A notification as the push service received it. */
export interface ReceivedPush {
  to: string;
  title?: string;
  body?: string;
  data?: Record<string, unknown>;
  collapseId?: string;
  tag?: string;
  threadId?: string;
  [field: string]: unknown;
}

export interface FakeExpo {
  /** The origin for PUSH_EXPO_URL: `http://127.0.0.1:PORT`. */
  url: string;
  /** Every notification accepted (ticket ok or error), in order. */
  readonly pushes: ReceivedPush[];
  /** Every send request, answered or refused (`down`), with its Authorization header. */
  readonly sendRequests: { authorization?: string; size: number }[];
  /** Every getReceipts request's ids. */
  readonly receiptRequests: string[][];
  /** The pushes to one token so far. */
  pushesTo(token: string): ReceivedPush[];
  /** Resolves once `check` holds, checked after each request (rejects after 10 s naming `what`). */
  until<T>(check: () => T | undefined | false, what: string): Promise<T>;
  /** The nth push (1-based) to a token, once it has arrived. */
  nthPushTo(token: string, n: number): Promise<ReceivedPush>;
  /** While down, every send request is answered 503. */
  setDown(down: boolean): void;
  /** The token's tickets (`ticket`) or receipts (`receipt`) say DeviceNotRegistered from now on. */
  unregister(token: string, where: 'ticket' | 'receipt'): void;
  close(): Promise<void>;
}

const SEND = '/--/api/v2/push/send';
const RECEIPTS = '/--/api/v2/push/getReceipts';

function deviceNotRegistered(token: string): Record<string, unknown> {
  return {
    status: 'error',
    message: `"${token}" is not a registered push notification recipient`,
    details: { error: 'DeviceNotRegistered', expoPushToken: token },
  };
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) {
    chunks.push(chunk as Buffer);
  }
  const raw = Buffer.concat(chunks);
  const text = (req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw).toString('utf8');
  return JSON.parse(text);
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
}

export async function startFakeExpo(): Promise<FakeExpo> {
  const pushes: ReceivedPush[] = [];
  const sendRequests: { authorization?: string; size: number }[] = [];
  const receiptRequests: string[][] = [];
  const tickets = new Map<string, string>();
  const refused = new Map<string, 'ticket' | 'receipt'>();
  const changes = new EventEmitter().setMaxListeners(0);
  let down = false;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    if (req.method === 'POST' && req.url === SEND) {
      const messages = (Array.isArray(body) ? body : [body]) as ReceivedPush[];
      sendRequests.push({ authorization: req.headers.authorization, size: messages.length });
      if (down) {
        return sendJson(res, 503, { errors: [{ code: 'INTERNAL_SERVER_ERROR', message: 'down for the test' }] });
      }
      const data = messages.map((message) => {
        pushes.push(message);
        if (refused.get(message.to) === 'ticket') {
          return deviceNotRegistered(message.to);
        }
        const id = `ticket-${tickets.size + 1}`;
        tickets.set(id, message.to);
        return { status: 'ok', id };
      });
      return sendJson(res, 200, { data });
    }
    if (req.method === 'POST' && req.url === RECEIPTS) {
      const ids = ((body as { ids?: string[] }).ids ?? []).filter((id) => tickets.has(id));
      receiptRequests.push(ids);
      const data = Object.fromEntries(
        ids.map((id) => {
          const token = tickets.get(id) ?? '';
          return [id, refused.get(token) === 'receipt' ? deviceNotRegistered(token) : { status: 'ok' }];
        }),
      );
      return sendJson(res, 200, { data });
    }
    sendJson(res, 404, { errors: [{ code: 'NOT_FOUND', message: 'no such endpoint' }] });
  }

  const server = createServer((req, res) => {
    handle(req, res)
      .catch((error: unknown) => sendJson(res, 400, { errors: [{ code: 'BAD_REQUEST', message: String(error) }] }))
      .finally(() => changes.emit('change'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  const pushesTo = (token: string) => pushes.filter((push) => push.to === token);
  const until = <T>(check: () => T | undefined | false, what: string): Promise<T> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        changes.off('change', test);
        reject(new Error(`fake Expo: ${what}: not within 10 s (pushes: ${JSON.stringify(pushes.map((p) => p.to))})`));
      }, 10_000);
      const test = (): boolean => {
        const value = check();
        if (value === undefined || value === false) {
          return false;
        }
        clearTimeout(timer);
        changes.off('change', test);
        resolve(value);
        return true;
      };
      if (!test()) {
        changes.on('change', test);
      }
    });

  return {
    url: `http://127.0.0.1:${port}`,
    pushes,
    sendRequests,
    receiptRequests,
    pushesTo,
    until,
    nthPushTo: (token, n) => until(() => pushesTo(token)[n - 1], `push ${n} to ${token}`),
    setDown: (value) => {
      down = value;
    },
    unregister: (token, where) => {
      refused.set(token, where);
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
