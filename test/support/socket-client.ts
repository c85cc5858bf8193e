import { io, type Socket } from 'socket.io-client';
import type { TestUser } from './http-client';

/** Connects to the `/chat` namespace over websocket with a token; resolves once connected. */
export async function connectSocket(
  baseUrl: string,
  token: string | undefined,
  options: { auth?: object } = {},
): Promise<Socket> {
  const socket = io(`${baseUrl}/chat`, {
    auth: options.auth ?? (token === undefined ? {} : { token }),
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', (error) => {
      socket.close();
      reject(error);
    });
  });
  return socket;
}

/** The `connect_error` a refused handshake gets (on `/chat`, or another namespace). */
export async function refusedConnection(
  baseUrl: string,
  auth: object,
  namespace = '/chat',
): Promise<Error & { data?: any }> {
  const socket = io(`${baseUrl}${namespace}`, { auth, transports: ['websocket'], reconnection: false, forceNew: true });
  try {
    return await new Promise((resolve, reject) => {
      socket.once('connect', () => reject(new Error('the connection was accepted')));
      socket.once('connect_error', (error) => resolve(error as Error & { data?: unknown }));
    });
  } finally {
    socket.close();
  }
}

/** Emits an event and resolves with its ack (rejects after 10 s without one). */
export function ack<T = any>(socket: Socket, event: string, ...args: unknown[]): Promise<T> {
  return socket.timeout(10_000).emitWithAck(event, ...args) as Promise<T>;
}

/** Collects every payload of `event` the socket receives from now on. */
export function collect<T = any>(socket: Socket, event: string): T[] {
  const received: T[] = [];
  socket.on(event, (payload: T) => received.push(payload));
  return received;
}

/** Resolves with the next payload of `event` that matches (rejects after 10 s). */
export function nextEvent<T = any>(
  socket: Socket,
  event: string,
  match: (payload: T) => boolean = () => true,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.off(event, listener);
      reject(new Error(`no ${event} within 10 s`));
    }, 10_000);
    const listener = (payload: T) => {
      if (match(payload)) {
        clearTimeout(timer);
        socket.off(event, listener);
        resolve(payload);
      }
    };
    socket.on(event, listener);
  });
}

/**
 * Proves that nothing more arrives: a round trip through the server (an ack) after which any event the
 * server emitted before it has been delivered, because one socket's packets arrive in order.
 */
export async function settle(socket: Socket): Promise<void> {
  await ack(socket, 'room:leave', { roomId: '00000000-0000-0000-0000-000000000000' });
}

/**
 * Resolves once `done()` holds, checked now and at each `event` the socket receives (at each event of any name when
 * `event` is left out); rejects after `capMs` with `failure()` as the message. What `done` reads must be filled by
 * listeners registered before this call (`collect`, `collectAll`), so that they hold the event being checked.
 */
export function untilSocket(
  socket: Socket,
  done: () => boolean,
  failure: () => string,
  capMs = 10_000,
  event?: string,
): Promise<void> {
  if (done()) {
    return Promise.resolve();
  }
  return new Promise((resolve, reject) => {
    const stop = () => (event === undefined ? socket.offAny(check) : socket.off(event, check));
    const check = () => {
      if (done()) {
        clearTimeout(timer);
        stop();
        resolve();
      }
    };
    const timer = setTimeout(() => {
      stop();
      reject(new Error(failure()));
    }, capMs);
    if (event === undefined) {
      socket.onAny(check);
    } else {
      socket.on(event, check);
    }
  });
}

/** `room:join`, failing loudly unless the ack is ok; returns the ack. */
export async function joinRoom(socket: Socket, roomId: string, extra: object = {}): Promise<any> {
  const res = await ack(socket, 'room:join', { roomId, ...extra });
  if (res?.ok !== true) {
    throw new Error(`room:join failed: ${JSON.stringify(res)}`);
  }
  return res;
}

/** One base URL, or one per instance of the app. */
export type BaseUrls = string | readonly string[];

/**
 * Tracks every socket a test opens so that afterEach closes them all. Given several URLs (the instances of a
 * cluster), it opens sockets on each in turn, starting over from the first after `closeAll()`: a test's first socket
 * goes to the first instance, its second to the second, and so on, the same in every run.
 */
export class SocketPool {
  private readonly sockets: Socket[] = [];
  private turn = 0;
  private readonly perUrl = new Map<string, number>();

  /** `urls` may be given later, as a function read when a socket opens (an app a beforeAll starts). */
  constructor(private readonly baseUrls: BaseUrls | (() => BaseUrls)) {}

  /** The URL of the next socket, in turn. */
  private nextUrl(): string {
    const given = typeof this.baseUrls === 'function' ? this.baseUrls() : this.baseUrls;
    const urls = typeof given === 'string' ? [given] : given;
    return urls[this.turn++ % urls.length];
  }

  private count(url: string): void {
    this.perUrl.set(url, (this.perUrl.get(url) ?? 0) + 1);
  }

  /** How many sockets `open`, `joined` and `retrying` connected per URL since the pool was made. */
  connectionsPerUrl(): ReadonlyMap<string, number> {
    return this.perUrl;
  }

  async open(user: TestUser): Promise<Socket> {
    const url = this.nextUrl();
    const socket = this.track(await connectSocket(url, user.token));
    this.count(url);
    return socket;
  }

  /** A connected socket of `user` subscribed to the room. */
  async joined(user: TestUser, roomId: string): Promise<Socket> {
    const socket = await this.open(user);
    await joinRoom(socket, roomId);
    return socket;
  }

  /** A socket.io-client socket that retries unacknowledged emits (`retries`, `ackTimeout`), like a cautious app. */
  async retrying(user: TestUser, options: { retries: number; ackTimeout: number }): Promise<Socket> {
    const url = this.nextUrl();
    const socket = this.track(
      io(`${url}/chat`, {
        ...options,
        auth: { token: user.token },
        transports: ['websocket'],
        reconnection: false,
        forceNew: true,
      }),
    );
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', reject);
    });
    this.count(url);
    return socket;
  }

  track(socket: Socket): Socket {
    this.sockets.push(socket);
    return socket;
  }

  /** Closes every tracked socket; the next socket goes to the first URL again. */
  closeAll(): void {
    this.turn = 0;
    for (const socket of this.sockets.splice(0)) {
      socket.close();
    }
  }
}
