import { io, type Socket } from 'socket.io-client';
import type { Emitter } from './emitter';
import { ChatError } from './errors';
import type { ClientEvents, ConnectionStatus } from './events';
import { httpFetch, subjectOf, timers } from './platform';
import type { Ack, ClientCalls, ClientToServerEvents, ErrorBody, ServerToClientEvents } from './protocol';

export interface ConnectionOptions {
  url: string;
  getToken(): Promise<string> | string;
  ackTimeoutMs: number;
}

export type ChatSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/**
 * The session: one socket (websocket transport) re-connected with a fresh token whenever it drops, renewed in place
 * on `session:expiring` (`auth:refresh`), and the calls over it (acks as values or ChatErrors) and over HTTP.
 */
export class Connection {
  readonly socket: ChatSocket;
  private token?: string;
  private state: ConnectionStatus = 'connecting';
  private retryTimer?: unknown;

  constructor(
    private readonly options: ConnectionOptions,
    private readonly emitter: Emitter<ClientEvents>,
  ) {
    this.socket = io(`${this.baseUrl}/chat`, {
      transports: ['websocket'],
      autoConnect: false,
      // Asked at every (re)connection, so a reconnect always carries a fresh token.
      auth: (callback) => {
        this.freshToken().then(
          (token) => callback({ token }),
          () => callback({}),
        );
      },
    });
    this.listen();
  }

  get status(): ConnectionStatus {
    return this.state;
  }

  get connected(): boolean {
    return this.socket.connected;
  }

  /** The caller's profile id (the token's `sub`), once a token was fetched. */
  get userId(): string | undefined {
    return this.token ? subjectOf(this.token) : undefined;
  }

  open(): void {
    this.socket.connect();
  }

  /** Resolves once the socket is connected (at once when it is). */
  async connectedOnce(): Promise<void> {
    if (!this.socket.connected) {
      await new Promise<void>((resolve) => this.socket.once('connect', () => resolve()));
    }
  }

  close(): void {
    this.setStatus('closed');
    if (this.retryTimer !== undefined) {
      timers.clear(this.retryTimer);
    }
    this.socket.disconnect();
  }

  /** Emits a client → server event and resolves with its ack, or rejects with a ChatError. */
  async call<E extends keyof ClientCalls>(
    event: E,
    payload: ClientCalls[E]['payload'],
  ): Promise<ClientCalls[E]['result']> {
    if (!this.socket.connected) {
      throw new ChatError('DISCONNECTED', 'Not connected');
    }
    let ack: Ack<ClientCalls[E]['result']>;
    try {
      // Socket.IO's typing of a generic event name is too wide to call; the map above types it instead.
      const timed = this.socket.timeout(this.options.ackTimeoutMs);
      const emit = timed.emitWithAck.bind(timed) as unknown as (
        event: E,
        payload: ClientCalls[E]['payload'],
      ) => Promise<Ack<ClientCalls[E]['result']>>;
      ack = await emit(event, payload);
    } catch {
      throw this.socket.connected
        ? new ChatError('TIMEOUT', `No answer to ${event}`)
        : new ChatError('DISCONNECTED', 'Disconnected');
    }
    if (!ack.ok) {
      throw ChatError.from(ack.error);
    }
    return ack;
  }

  /** An HTTP call of `/api` with the session's token (and a JSON body); a problem+json answer rejects as ChatError. */
  async http<T>(method: string, path: string, body?: unknown): Promise<T> {
    const token = this.token ?? (await this.freshToken());
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
    }
    const response = await httpFetch(`${this.baseUrl}${path}`, {
      method,
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const answer = (await response.json()) as T & Partial<ErrorBody> & { detail?: string };
    if (!response.ok) {
      throw new ChatError(answer.code ?? 'INTERNAL', answer.detail ?? answer.message ?? `HTTP ${response.status}`, {
        retryAfterMs: answer.retryAfterMs,
        requestId: answer.requestId,
        details: answer.details,
      });
    }
    return answer;
  }

  report(error: unknown): void {
    this.emitter.emit('error', error instanceof ChatError ? error : new ChatError('INTERNAL', String(error)));
  }

  private get baseUrl(): string {
    return this.options.url.replace(/\/+$/, '');
  }

  private listen(): void {
    const socket = this.socket;
    socket.on('connect', () => this.setStatus('connected'));
    socket.on('disconnect', (reason) => {
      if (this.state === 'closed') {
        return;
      }
      this.setStatus('disconnected');
      // socket.io-client reconnects by itself after a network loss, not after the server disconnected it
      // (`session:expired`, a server-side drop): then reconnect here, with a fresh token.
      if (reason === 'io server disconnect') {
        this.reconnectSoon(0);
      }
    });
    socket.on('connect_error', (error: Error & { data?: Partial<ErrorBody> }) => {
      if (this.state === 'closed' || socket.active) {
        return; // a transport error: the manager retries by itself
      }
      // Refused by the server's middleware (UNAUTHENTICATED, RATE_LIMITED): retry, with a fresh token.
      this.setStatus('disconnected');
      this.reconnectSoon(error.data?.retryAfterMs ?? 1000);
    });
    socket.on('session:expiring', () => void this.renew());
  }

  private async freshToken(): Promise<string> {
    this.token = await this.options.getToken();
    return this.token;
  }

  /** `session:expiring`: hand the socket a fresh token (twice at most: the first may have expired meanwhile). */
  private async renew(): Promise<void> {
    for (let attempt = 1; attempt <= 2; attempt++) {
      try {
        await this.call('auth:refresh', { token: await this.freshToken() });
        return;
      } catch (error) {
        if (!(error instanceof ChatError && error.code === 'UNAUTHENTICATED') || attempt === 2) {
          this.report(error);
          return;
        }
      }
    }
  }

  private reconnectSoon(ms: number): void {
    if (this.retryTimer !== undefined) {
      return;
    }
    this.retryTimer = timers.set(() => {
      this.retryTimer = undefined;
      if (this.state !== 'closed' && !this.socket.connected) {
        this.setStatus('connecting');
        this.socket.connect();
      }
    }, ms);
  }

  private setStatus(status: ConnectionStatus): void {
    if (this.state !== status && this.state !== 'closed') {
      this.state = status;
      this.emitter.emit('status', status);
    }
  }
}
