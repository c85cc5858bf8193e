/**
 * A socket's session (PROTOCOL.md §4): `auth:refresh` renews the identity of a connected socket in place,
 * `session:expiring` warns SESSION_EXPIRING_NOTICE_SECONDS before its token expires, `session:expired` and a
 * disconnect end it; and the Socket.IO heartbeat the server announces and holds clients to.
 */
import { randomUUID } from 'node:crypto';
import { io, type Socket } from 'socket.io-client';
import WebSocket from 'ws';
import { signUp, type TestUser } from '../support/http-client';
import {
  ackOnce,
  createRoom,
  expectErrorAck,
  nextDisconnect,
  postMessage,
  signLocalToken,
  tamperedToken,
  unsignedToken,
} from '../support/realtime-helpers';
import { eventually } from '../support/eventually';
import { ack, connectSocket, joinRoom, nextEvent } from '../support/socket-client';
import { useTestApp } from '../support/test-app';

const NOTICE_SECONDS = 2;
const PING_INTERVAL_MS = 2000;
const PING_TIMEOUT_MS = 4000;

const nowSeconds = (): number => Math.floor(Date.now() / 1000);
const iso = (expSeconds: number): string => new Date(expSeconds * 1000).toISOString();

/** Every event a socket receives, with when it arrived (Date.now()), the disconnect among them. */
type Timed = [event: string, payload: unknown, at: number];

describe('socket sessions (auth:refresh, session:expiring, session:expired, heartbeat)', () => {
  const t = useTestApp({
    SESSION_EXPIRING_NOTICE_SECONDS: String(NOTICE_SECONDS),
    SOCKET_PING_INTERVAL_MS: String(PING_INTERVAL_MS),
    SOCKET_PING_TIMEOUT_MS: String(PING_TIMEOUT_MS),
  });

  const tokenOf = (user: { id: string }, exp: number): Promise<string> =>
    signLocalToken(t.config.auth.localJwtSecret, user.id, exp);

  /**
   * A socket connected with `token` whose events are logged from before the connection, as a client registers its
   * listeners before it connects (`before` registers more): none can be missed, `session:expiring` included.
   */
  async function connectLogged(
    token: string,
    before?: (socket: Socket) => void,
  ): Promise<{ socket: Socket; log: Timed[] }> {
    const socket = t.sockets.track(
      io(`${t.url}/chat`, {
        auth: { token },
        transports: ['websocket'],
        reconnection: false,
        forceNew: true,
        autoConnect: false,
      }),
    );
    const log: Timed[] = [];
    socket.onAny((event: string, payload: unknown) => log.push([event, payload, Date.now()]));
    socket.on('disconnect', (reason) => log.push(['disconnect', reason, Date.now()]));
    before?.(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', reject);
      socket.connect();
    });
    return { socket, log };
  }

  /** The socket is signed in as `owner` and subscribed to the room: a message posted there arrives. */
  async function expectSubscribed(socket: Socket, owner: TestUser, roomId: string): Promise<void> {
    const content = `still here ${randomUUID()}`;
    const arrived = nextEvent(socket, 'message:new', (p: any) => p.message.content === content);
    await postMessage(owner, roomId, content);
    expect((await arrived).message).toMatchObject({ roomId, content, senderId: owner.id });
  }

  describe('auth:refresh', () => {
    it('should renew the socket in place: same connection, same rooms, the new expiry in the ack', async () => {
      const user = await signUp(t.url, 'ses');
      const room = await createRoom(user);
      const { socket, log } = await connectLogged(await tokenOf(user, nowSeconds() + 3600));
      await joinRoom(socket, room.id);
      const id = socket.id;
      const exp = nowSeconds() + 7200;
      const from = log.length;

      const res = await ackOnce(socket, 'auth:refresh', { token: await tokenOf(user, exp) });

      expect(res).toEqual({ ok: true, expiresAt: iso(exp) });
      expect(socket.connected).toBe(true);
      expect(socket.id).toBe(id);
      await expectSubscribed(socket, user, room.id);
      // Nothing but the room's messages: no session event, no disconnect.
      expect(log.slice(from).map(([event]) => event)).toEqual(['message:new']);
    });

    it('should take the token register and login give', async () => {
      const user = await signUp(t.url, 'ses');
      const { socket } = await connectLogged(user.token);
      const login = await user.http.post('/api/auth/login', { username: user.username, password: user.password });

      const res = await ackOnce(socket, 'auth:refresh', { token: login.body.accessToken });

      expect(res).toEqual({ ok: true, expiresAt: expect.any(String) });
      const exp = JSON.parse(Buffer.from(login.body.accessToken.split('.')[1], 'base64url').toString()).exp;
      expect(res.expiresAt).toBe(iso(exp));
    });

    it('should renew a socket that sends auth:refresh without a callback, and tell it about the new token', async () => {
      const user = await signUp(t.url, 'ses');
      // Both tokens live less than the notice: each one is announced by a session:expiring at once.
      const oldExp = nowSeconds() + 2;
      const { socket, log } = await connectLogged(await tokenOf(user, oldExp));
      const newExp = oldExp + 1;
      const announced = nextEvent(socket, 'session:expiring', (p: any) => p.expiresAt === iso(newExp));

      socket.emit('auth:refresh', { token: await tokenOf(user, newExp) });

      await announced;
      expect(log.map(([event, payload]) => [event, payload])).toEqual([
        ['session:expiring', { expiresAt: iso(oldExp) }],
        ['session:expiring', { expiresAt: iso(newExp) }],
      ]);
    });

    it('should move the expiry to the new token: session:expiring and session:expired follow it, not the old one', async () => {
      const user = await signUp(t.url, 'ses');
      const room = await createRoom(user);
      const oldExp = nowSeconds() + 5;
      const { socket, log } = await connectLogged(await tokenOf(user, oldExp));
      await joinRoom(socket, room.id);
      const newExp = oldExp + 4;

      const res = await ack(socket, 'auth:refresh', { token: await tokenOf(user, newExp) });
      expect(res).toEqual({ ok: true, expiresAt: iso(newExp) });
      const from = log.length;
      const reason = await nextDisconnect(socket);

      expect(reason).toBe('io server disconnect');
      const after = log.slice(from);
      expect(after.map(([event, payload]) => [event, payload])).toEqual([
        ['session:expiring', { expiresAt: iso(newExp) }],
        ['session:expired', { code: 'UNAUTHENTICATED', message: expect.any(String) }],
        ['disconnect', 'io server disconnect'],
      ]);
      const [[, , warnedAt], [, , expiredAt]] = after;
      expect(warnedAt).toBeGreaterThanOrEqual((newExp - NOTICE_SECONDS) * 1000);
      expect(expiredAt).toBeGreaterThanOrEqual(newExp * 1000);
      // The old token's end (4 s earlier) passed with the socket still there.
      expect(expiredAt - oldExp * 1000).toBeGreaterThanOrEqual(4000);
    }, 30_000);

    it('should refuse another user’s valid token with FORBIDDEN, then disconnect the socket', async () => {
      const [user, other] = await Promise.all([signUp(t.url, 'ses'), signUp(t.url, 'oth')]);
      const otherRoom = await createRoom(other);
      const { socket, log } = await connectLogged(user.token);
      const gone = nextDisconnect(socket);

      const res = await ack(socket, 'auth:refresh', { token: other.token });

      expectErrorAck(res, 'FORBIDDEN');
      expect(res.error.message).not.toContain(other.token);
      expect(await gone).toBe('io server disconnect');
      expect(log.map(([event]) => event)).toEqual(['disconnect']);
      // The other user's rooms stay theirs; the first user connects again as before.
      const again = await connectSocket(t.url, user.token);
      t.sockets.track(again);
      expectErrorAck(await ack(again, 'room:join', { roomId: otherRoom.id }), 'NOT_FOUND');
    });

    it.each<[string, (user: TestUser) => Promise<string>]>([
      ['garbage', () => Promise.resolve('garbage')],
      ['three dots-separated words', () => Promise.resolve('a.b.c')],
      ['with one character of its signature changed', (user) => Promise.resolve(tamperedToken(user.token))],
      [
        'signed with another secret',
        (user) => signLocalToken(`${randomUUID()}-${randomUUID()}`, user.id, nowSeconds() + 3600),
      ],
      ['unsigned (alg none)', (user) => Promise.resolve(unsignedToken(user.id))],
      ['expired', (user) => signLocalToken(t.config.auth.localJwtSecret, user.id, nowSeconds() - 60)],
      ['of a sub that is not a UUID', () => signLocalToken(t.config.auth.localJwtSecret, 'admin', nowSeconds() + 3600)],
      [
        'a refresh token',
        async (user) => {
          const login = await user.http.post('/api/auth/login', { username: user.username, password: user.password });
          return login.body.refreshToken as string;
        },
      ],
    ])('should refuse a token %s with UNAUTHENTICATED and keep the socket as it was', async (_label, make) => {
      const user = await signUp(t.url, 'ses');
      const room = await createRoom(user);
      const { socket, log } = await connectLogged(user.token);
      await joinRoom(socket, room.id);
      const token = await make(user);
      const from = log.length;

      const res = await ackOnce(socket, 'auth:refresh', { token });

      expectErrorAck(res, 'UNAUTHENTICATED');
      expect(JSON.stringify(res)).not.toContain(token);
      expect(socket.connected).toBe(true);
      await expectSubscribed(socket, user, room.id);
      expect(log.slice(from).map(([event]) => event)).toEqual(['message:new']);
    });

    const badPayloads: [string, unknown[], string][] = [
      ['no payload (only a callback)', [], 'payload'],
      ['null', [null], 'payload'],
      ['a number', [42], 'payload'],
      ['the token as a bare string', ['__TOKEN__'], 'payload'],
      ['an array', [['__TOKEN__']], 'payload'],
      ['a boolean', [true], 'payload'],
      ['an empty object', [{}], 'token'],
      ['a token that is a number', [{ token: 12345 }], 'token'],
      ['a token that is null', [{ token: null }], 'token'],
      ['a token that is a boolean', [{ token: true }], 'token'],
      ['a token that is an array', [{ token: ['__TOKEN__'] }], 'token'],
      ['a token that is an object', [{ token: { token: '__TOKEN__' } }], 'token'],
      ['an empty token', [{ token: '' }], 'token'],
      ['a token of 16 385 characters', [{ token: 'x'.repeat(16_385) }], 'token'],
      ['a token of 60 000 characters (under the transport limit)', [{ token: 'x'.repeat(60_000) }], 'token'],
      ['a token with a NUL character', [{ token: 'a.b\u0000.c' }], 'token'],
      ['a binary token', [{ token: Buffer.from('a.b.c') }], 'token'],
    ];

    it.each(badPayloads)(
      'should answer %s with VALIDATION_FAILED on %s and keep the socket signed in',
      async (_label, args, field) => {
        const user = await signUp(t.url, 'ses');
        const room = await createRoom(user);
        const { socket } = await connectLogged(user.token);
        await joinRoom(socket, room.id);
        const withToken = JSON.parse(JSON.stringify(args).replaceAll('__TOKEN__', user.token)) as unknown[];
        const sent = args.some((a) => Buffer.isBuffer((a as { token?: unknown })?.token)) ? args : withToken;

        const res = await ackOnce(socket, 'auth:refresh', ...sent);

        expectErrorAck(res, 'VALIDATION_FAILED', field);
        expect(JSON.stringify(res).length).toBeLessThan(2000);
        await expectSubscribed(socket, user, room.id);
      },
    );

    it('should count a refused renewal as nothing more than an answer: the session keeps its own expiry', async () => {
      const user = await signUp(t.url, 'ses');
      const exp = nowSeconds() + 3;
      const { socket, log } = await connectLogged(await tokenOf(user, exp));

      expectErrorAck(await ack(socket, 'auth:refresh', { token: 'garbage' }), 'UNAUTHENTICATED');
      expect(await nextDisconnect(socket)).toBe('io server disconnect');

      expect(log.map(([event]) => event)).toEqual(['session:expiring', 'session:expired', 'disconnect']);
      expect(log[1][2]).toBeGreaterThanOrEqual(exp * 1000);
    });
  });

  describe('session:expiring', () => {
    it('should arrive SESSION_EXPIRING_NOTICE_SECONDS before session:expired, with the expiry', async () => {
      const user = await signUp(t.url, 'ses');
      const exp = nowSeconds() + 5;
      const { socket, log } = await connectLogged(await tokenOf(user, exp));

      expect(await nextDisconnect(socket)).toBe('io server disconnect');

      expect(log.map(([event, payload]) => [event, payload])).toEqual([
        ['session:expiring', { expiresAt: iso(exp) }],
        ['session:expired', { code: 'UNAUTHENTICATED', message: 'The session expired' }],
        ['disconnect', 'io server disconnect'],
      ]);
      const [[, , warnedAt], [, , expiredAt]] = log;
      expect(warnedAt).toBeGreaterThanOrEqual((exp - NOTICE_SECONDS) * 1000);
      expect(warnedAt).toBeLessThan(exp * 1000);
      expect(expiredAt).toBeGreaterThanOrEqual(exp * 1000);
    }, 20_000);

    it('should let a client that acts on it stay connected: auth:refresh with a fresh token, then nothing more', async () => {
      const user = await signUp(t.url, 'ses');
      const room = await createRoom(user);
      const exp = nowSeconds() + 3;
      let renewed: Promise<any> | undefined;
      const { socket, log } = await connectLogged(await tokenOf(user, exp), (s) => {
        // What PROTOCOL.md asks of a client: on session:expiring, renew with a fresh token.
        s.on('session:expiring', () => {
          renewed = tokenOf(user, nowSeconds() + 3600).then((token) => ack(s, 'auth:refresh', { token }));
        });
      });
      await joinRoom(socket, room.id);

      expect(await eventually(() => renewed, 'the renewal')).toEqual({ ok: true, expiresAt: expect.any(String) });
      // The old token's end: whatever waits for it must have happened by then.
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, exp * 1000 - Date.now() + 500)));

      expect(socket.connected).toBe(true);
      await expectSubscribed(socket, user, room.id);
      expect(log.map(([event]) => event).filter((event) => event !== 'presence')).toEqual([
        'session:expiring',
        'message:new',
      ]);
    }, 20_000);
  });

  describe('heartbeat (SOCKET_PING_INTERVAL_MS, SOCKET_PING_TIMEOUT_MS)', () => {
    /** A bare Engine.IO connection over WebSocket: no namespace, no token, nothing answered unless told. */
    function rawEngine(): { ws: WebSocket; open: Promise<any>; closed: Promise<number> } {
      const ws = new WebSocket(`${t.url.replace(/^http/, 'ws')}/socket.io/?EIO=4&transport=websocket`);
      const open = new Promise<any>((resolve, reject) => {
        ws.once('message', (data: Buffer) => {
          const text = data.toString();
          return text.startsWith('0')
            ? resolve(JSON.parse(text.slice(1)))
            : reject(new Error(`not an open packet: ${text}`));
        });
        ws.once('error', reject);
      });
      const closed = new Promise<number>((resolve) => ws.once('close', () => resolve(Date.now())));
      return { ws, open, closed };
    }

    it('should announce its ping interval and timeout in the Engine.IO handshake', async () => {
      const { ws, open } = rawEngine();
      try {
        expect(await open).toMatchObject({ pingInterval: PING_INTERVAL_MS, pingTimeout: PING_TIMEOUT_MS });
      } finally {
        ws.close();
      }
    });

    it('should close a connection that stops answering pings after the interval and the timeout, and keep one that answers', async () => {
      const user = await signUp(t.url, 'hb');
      const answering = await t.sockets.open(user);
      const { ws, open, closed } = rawEngine();
      const pings: number[] = [];
      ws.on('message', (data: Buffer) => data.toString() === '2' && pings.push(Date.now()));
      await open;
      const openedAt = Date.now();

      const closedAt = await closed;

      expect(pings.length).toBeGreaterThanOrEqual(1);
      expect(closedAt - openedAt).toBeGreaterThanOrEqual(PING_INTERVAL_MS + PING_TIMEOUT_MS - 250);
      expect(closedAt - openedAt).toBeLessThan(PING_INTERVAL_MS + PING_TIMEOUT_MS + 3000);
      expect(answering.connected).toBe(true);
      expect((await ack(answering, 'room:leave', { roomId: randomUUID() })).ok).toBe(true);
    }, 20_000);
  });
});
