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

/** The `connect_error` a refused handshake gets. */
export async function refusedConnection(baseUrl: string, auth: object): Promise<Error & { data?: unknown }> {
  const socket = io(`${baseUrl}/chat`, { auth, transports: ['websocket'], reconnection: false, forceNew: true });
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

/** `room:join`, failing loudly unless the ack is ok; returns the ack. */
export async function joinRoom(socket: Socket, roomId: string, extra: object = {}): Promise<any> {
  const res = await ack(socket, 'room:join', { roomId, ...extra });
  if (res?.ok !== true) {
    throw new Error(`room:join failed: ${JSON.stringify(res)}`);
  }
  return res;
}

/** Tracks every socket a test opens so that afterEach closes them all. */
export class SocketPool {
  private readonly sockets: Socket[] = [];

  /** `url` may be given later, as a function read when a socket opens (an app a beforeAll starts). */
  constructor(private readonly baseUrl: string | (() => string)) {}

  private get url(): string {
    return typeof this.baseUrl === 'string' ? this.baseUrl : this.baseUrl();
  }

  async open(user: TestUser): Promise<Socket> {
    return this.track(await connectSocket(this.url, user.token));
  }

  /** A connected socket of `user` subscribed to the room. */
  async joined(user: TestUser, roomId: string): Promise<Socket> {
    const socket = await this.open(user);
    await joinRoom(socket, roomId);
    return socket;
  }

  /** A socket.io-client socket that retries unacknowledged emits (`retries`, `ackTimeout`), like a cautious app. */
  async retrying(user: TestUser, options: { retries: number; ackTimeout: number }): Promise<Socket> {
    const socket = this.track(
      io(`${this.url}/chat`, {
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
    return socket;
  }

  track(socket: Socket): Socket {
    this.sockets.push(socket);
    return socket;
  }

  closeAll(): void {
    for (const socket of this.sockets.splice(0)) {
      socket.close();
    }
  }
}
