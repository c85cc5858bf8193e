/**
 * The socket edge against one abusive client: a flood budget on every event, checked before any database
 * work; a bounded number of sockets per user; failed handshakes counted per IP; only /chat served.
 */
import { io, type Socket } from 'socket.io-client';
import { freshLoopbackAddress } from './support/auth-helpers';
import { eventually } from './support/eventually';
import { signUp } from './support/http-client';
import { metricCount } from './support/metrics';
import { createRoom, nextDisconnect, UNKNOWN_ROOM_ID } from './support/realtime-helpers';
import { ack, connectSocket, refusedConnection } from './support/socket-client';
import { useTestApp } from './support/test-app';

const SOCKET_BUDGET = 40;
const USER_BUDGET = 60;
const DISCONNECT_AFTER = 15;
const SEND_LIMIT = 5;

/** A handshake from a chosen source address; resolves with the socket, or the refusal's data. */
function handshakeFrom(
  url: string,
  localAddress: string,
  token: string,
): Promise<Socket | { code: string; retryAfterMs?: number }> {
  const socket = io(`${url}/chat`, {
    auth: { token },
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    localAddress,
  } as Parameters<typeof io>[1]);
  return new Promise((resolve) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (error: Error & { data?: { code: string; retryAfterMs?: number } }) => {
      socket.close();
      resolve(error.data ?? { code: error.message });
    });
  });
}

describe('socket hardening', () => {
  const t = useTestApp({
    RATE_SOCKET_EVENTS_PER_10S: String(SOCKET_BUDGET),
    RATE_EVENTS_PER_10S: String(USER_BUDGET),
    FLOOD_DISCONNECT_AFTER: String(DISCONNECT_AFTER),
    RATE_SEND_PER_10S: String(SEND_LIMIT),
    MAX_SOCKETS_PER_USER: '3',
    RATE_HANDSHAKES_PER_MINUTE: '5',
  });
  const opened: Socket[] = [];
  afterEach(() => opened.splice(0).forEach((s) => s.close()));
  const open = async (token: string) => {
    const socket = await connectSocket(t.url, token);
    opened.push(socket);
    return socket;
  };

  describe('flood budget', () => {
    it('should refuse every event over the socket budget with RATE_LIMITED and retryAfterMs, before any database work', async () => {
      const flooder = await signUp(t.url, 'fl');
      const socket = await open(flooder.token);
      const joinsBefore = await metricCount(t.url, 'db_call_duration_seconds_count', 'function="get_room"');

      const answers = await Promise.all(
        Array.from({ length: SOCKET_BUDGET + 10 }, () => ack(socket, 'room:join', { roomId: UNKNOWN_ROOM_ID })),
      );

      const codes = answers.map((a) => a.error?.code);
      expect(codes.slice(0, SOCKET_BUDGET).every((c) => c === 'NOT_FOUND')).toBe(true);
      expect(codes.slice(SOCKET_BUDGET)).toEqual(Array(10).fill('RATE_LIMITED'));
      expect(answers.at(-1).error.retryAfterMs).toBeGreaterThan(0);
      expect(answers.at(-1).error.retryAfterMs).toBeLessThanOrEqual(10_000);
      const joinsAfter = await metricCount(t.url, 'db_call_duration_seconds_count', 'function="get_room"');
      expect(joinsAfter - joinsBefore).toBeGreaterThan(0);
      expect(joinsAfter - joinsBefore).toBeLessThanOrEqual(SOCKET_BUDGET);
    });

    it('should count auth:refresh against the budget too, refusing it before its token is looked at', async () => {
      const flooder = await signUp(t.url, 'fl');
      const ip = freshLoopbackAddress();
      const socket = await handshakeFrom(t.url, ip, flooder.token);
      if (!('connected' in socket)) {
        throw new Error(`the handshake was refused: ${JSON.stringify(socket)}`);
      }
      opened.push(socket);

      const answers = await Promise.all(
        Array.from({ length: SOCKET_BUDGET + 5 }, () => ack(socket, 'auth:refresh', { token: 'not.a.token' })),
      );

      const codes = answers.map((a) => a.error?.code);
      expect(codes.slice(0, SOCKET_BUDGET)).toEqual(Array(SOCKET_BUDGET).fill('UNAUTHENTICATED'));
      expect(codes.slice(SOCKET_BUDGET)).toEqual(Array(5).fill('RATE_LIMITED'));
      expect(socket.connected).toBe(true);
      // The refused tokens were not failed handshakes: the IP's budget of those (5) is untouched.
      expect(await handshakeFrom(t.url, ip, 'not.a.token')).toMatchObject({ code: 'UNAUTHENTICATED' });
    });

    it('should give a user one budget across their sockets', async () => {
      const flooder = await signUp(t.url, 'fl');
      const [a, b] = [await open(flooder.token), await open(flooder.token)];
      const leave = (s: Socket) => ack(s, 'room:leave', { roomId: UNKNOWN_ROOM_ID });

      const fromA = await Promise.all(Array.from({ length: SOCKET_BUDGET }, () => leave(a)));
      const fromB = await Promise.all(Array.from({ length: SOCKET_BUDGET }, () => leave(b)));

      expect(fromA.every((x) => x.ok)).toBe(true);
      const okFromB = fromB.filter((x) => x.ok).length;
      expect(okFromB).toBe(USER_BUDGET - SOCKET_BUDGET);
      expect(fromB.filter((x) => x.error?.code === 'RATE_LIMITED')).toHaveLength(SOCKET_BUDGET - okFromB);
    });

    it('should disconnect a socket that keeps flooding after being told', async () => {
      const flooder = await signUp(t.url, 'fl');
      const socket = await open(flooder.token);
      const gone = nextDisconnect(socket);

      for (let n = 0; n < SOCKET_BUDGET + DISCONNECT_AFTER && socket.connected; n += 1) {
        socket.emit('typing:update', { roomId: UNKNOWN_ROOM_ID, isTyping: true }, () => undefined);
      }

      expect(await gone).toBe('io server disconnect');
      // Cut off: the flooder may not come straight back for the rest of the window.
      const back = await refusedConnection(t.url, { token: flooder.token });
      expect(back.data).toMatchObject({ code: 'RATE_LIMITED', retryAfterMs: expect.any(Number) });
      // The user is not locked out: a new socket works once the window allows.
      const other = await signUp(t.url, 'ok');
      expect((await ack(await open(other.token), 'room:leave', { roomId: UNKNOWN_ROOM_ID })).ok).toBe(true);
    });

    it('should disconnect a socket that sends malformed payloads in bulk', async () => {
      const sender = await signUp(t.url, 'mf');
      const socket = await open(sender.token);
      const gone = nextDisconnect(socket);
      const deep = JSON.parse('['.repeat(100) + ']'.repeat(100)) as unknown;

      const answers = [];
      for (let n = 0; n < DISCONNECT_AFTER && socket.connected; n += 1) {
        answers.push(await ack(socket, 'message:send', { roomId: UNKNOWN_ROOM_ID, content: deep, clientId: `d-${n}` }));
      }

      expect(answers.every((a) => a.error?.code === 'VALIDATION_FAILED')).toBe(true);
      expect(await gone).toBe('io server disconnect');
    });

    it('should answer sends over the limit without reaching the database once the retry lookups are spent', async () => {
      const sender = await signUp(t.url, 'sd');
      const room = await createRoom(sender);
      const socket = await open(sender.token);
      const send = (n: number) =>
        ack(socket, 'message:send', { roomId: room.id, content: `m${n}`, clientId: `c-${n}` });
      for (let n = 0; n < SEND_LIMIT; n += 1) {
        expect((await send(n)).ok).toBe(true);
      }
      // A retry of a stored send over the limit is still answered as the duplicate it is.
      expect(await send(0)).toMatchObject({ ok: true, duplicate: true });
      const lookupsBefore = await metricCount(t.url, 'db_call_duration_seconds_count', 'function="find_my_message"');

      const over = await Promise.all(Array.from({ length: 30 }, (_, n) => send(100 + n)));

      expect(over.every((x) => x.error?.code === 'RATE_LIMITED')).toBe(true);
      const lookupsAfter = await metricCount(t.url, 'db_call_duration_seconds_count', 'function="find_my_message"');
      expect(lookupsAfter - lookupsBefore).toBeLessThanOrEqual(SEND_LIMIT);
      expect(lookupsBefore).toBeGreaterThan(0);
    });
  });

  describe('connections', () => {
    it('should refuse a connection to the default namespace at once', async () => {
      const error = await refusedConnection(t.url.replace(/\/$/, ''), {}, '/');

      expect(error.data).toEqual({ code: 'NOT_FOUND', message: expect.stringContaining('/chat') });
    });

    it('should refuse a user their socket over MAX_SOCKETS_PER_USER, keeping the open ones', async () => {
      const user = await signUp(t.url, 'cap');
      const kept = [await open(user.token), await open(user.token), await open(user.token)];

      const refused = await refusedConnection(t.url, { token: user.token });

      expect(refused.data).toMatchObject({ code: 'RATE_LIMITED', retryAfterMs: expect.any(Number) });
      expect(kept.every((s) => s.connected)).toBe(true);
      kept[0].close();
      // The slot is freed once the disconnect has reached the count: then a new socket is accepted.
      opened.push(await eventually(() => connectSocket(t.url, user.token).catch(() => undefined), 'a freed slot'));
    });

    it('should count failed handshakes per IP and refuse that IP with RATE_LIMITED once over', async () => {
      const user = await signUp(t.url, 'hs');
      const attacker = freshLoopbackAddress();
      const neighbour = freshLoopbackAddress();

      const bad = [];
      for (let n = 0; n < 6; n += 1) {
        bad.push(await handshakeFrom(t.url, attacker, 'not-a-token'));
      }

      expect(bad.slice(0, 5).map((r) => ('code' in r ? r.code : 'connected'))).toEqual(
        Array(5).fill('UNAUTHENTICATED'),
      );
      expect(bad[5]).toMatchObject({ code: 'RATE_LIMITED', retryAfterMs: expect.any(Number) });
      const fromNeighbour = await handshakeFrom(t.url, neighbour, user.token);
      expect('connected' in fromNeighbour && fromNeighbour.connected).toBe(true);
      (fromNeighbour as Socket).close();
    });
  });
});
