import { io, type Socket } from 'socket.io-client';
import { signUp, type TestUser } from '../support/http-client';
import {
  ackOnce,
  collectAll,
  createRoom,
  expectUnauthenticated,
  nextDisconnect,
  refusedWith,
  signLocalToken,
  tamperedToken,
  unsignedToken,
} from '../support/realtime-helpers';
import { connectSocket, nextEvent, refusedConnection } from '../support/socket-client';
import { useTestApp } from '../support/test-app';

const nowSeconds = (): number => Math.floor(Date.now() / 1000);

describe('Socket.IO handshake (/chat)', () => {
  const t = useTestApp();

  /** A connected socket proves it is signed in as `user`: it can join the room `user` owns. */
  async function expectSignedIn(socket: Socket, user: TestUser): Promise<void> {
    const room = await createRoom(user);
    const joined = await ackOnce(socket, 'room:join', { roomId: room.id });
    expect(joined).toEqual({
      ok: true,
      room: expect.any(Object),
      messages: [],
      hasMore: false,
      online: expect.any(Array),
    });
    expect(joined.room).toMatchObject({ id: room.id, ownerId: user.id, myRole: 'owner' });
  }

  describe('refused connections', () => {
    it('should refuse a client that sends no auth at all', async () => {
      expectUnauthenticated(await refusedWith(t.url, {}));
    });

    it('should refuse an empty auth object', async () => {
      expectUnauthenticated(await refusedConnection(t.url, {}));
    });

    it('should refuse auth without a token field', async () => {
      const user = await signUp(t.url, 'hs');
      expectUnauthenticated(
        await refusedConnection(t.url, { accessToken: user.token, bearer: user.token }),
        user.token,
      );
    });

    it.each<[string, unknown]>([
      ['an empty string', ''],
      ['null', null],
      ['a number', 12345],
      ['a boolean', true],
      ['an object', { sub: '5b0c6c1e-2f7d-4e59-a3c8-0d9e1f2a3b4c' }],
      ['an array', ['a.b.c']],
    ])('should refuse a token that is %s', async (_label, token) => {
      expectUnauthenticated(await refusedConnection(t.url, { token }));
    });

    it('should refuse a valid token wrapped in an object or an array', async () => {
      const user = await signUp(t.url, 'hs');
      expectUnauthenticated(await refusedConnection(t.url, { token: { token: user.token } }), user.token);
      expectUnauthenticated(await refusedConnection(t.url, { token: [user.token] }), user.token);
    });

    it.each([
      ['a word', 'garbage'],
      ['three dots-separated words', 'a.b.c'],
      ['a Bearer prefix', 'Bearer nothing'],
      ['only dots', '....'],
      ['a header and an empty payload without a signature', 'eyJhbGciOiJIUzI1NiJ9.e30.'],
      ['10 000 characters', 'x'.repeat(10_000)],
    ])('should refuse a garbage token: %s', async (_label, token) => {
      expectUnauthenticated(await refusedConnection(t.url, { token }), token);
    });

    it('should refuse a token with one character of its signature changed', async () => {
      const user = await signUp(t.url, 'hs');
      const token = tamperedToken(user.token);
      expect(token).not.toBe(user.token);

      expectUnauthenticated(await refusedConnection(t.url, { token }), token);
    });

    it('should refuse a token with its payload changed to another user', async () => {
      const [user, victim] = await Promise.all([signUp(t.url, 'hs'), signUp(t.url, 'hs')]);
      const [header, payload, signature] = user.token.split('.');
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
      const forged = Buffer.from(JSON.stringify({ ...claims, sub: victim.id })).toString('base64url');
      const token = `${header}.${forged}.${signature}`;

      expectUnauthenticated(await refusedConnection(t.url, { token }), token);
    });

    it('should refuse a token signed with another secret', async () => {
      const user = await signUp(t.url, 'hs');
      const token = await signLocalToken(`${t.config.auth.localJwtSecret}-not`, user.id, nowSeconds() + 3600);

      expectUnauthenticated(await refusedConnection(t.url, { token }), token);
    });

    it('should refuse an unsigned alg none token', async () => {
      const user = await signUp(t.url, 'hs');
      const token = unsignedToken(user.id);

      expectUnauthenticated(await refusedConnection(t.url, { token }), token);
    });

    it('should refuse an expired token signed with the server secret', async () => {
      const user = await signUp(t.url, 'hs');
      const token = await signLocalToken(t.config.auth.localJwtSecret, user.id, nowSeconds() - 60);

      expectUnauthenticated(await refusedConnection(t.url, { token }), token);
    });
  });

  describe('transports', () => {
    // Long-polling would need sticky sessions across instances: the server speaks WebSocket only (PROTOCOL §4).
    it('should answer an HTTP long-polling handshake 400 "Transport unknown"', async () => {
      const user = await signUp(t.url, 'hs');

      const response = await fetch(`${t.url}/socket.io/?EIO=4&transport=polling`, {
        headers: { authorization: `Bearer ${user.token}` },
      });

      expect(response.status).toBe(400);
      expect(await response.json()).toEqual({ code: 0, message: 'Transport unknown' });
    });

    it('should not connect a client that may only poll, and connect it over WebSocket', async () => {
      const user = await signUp(t.url, 'hs');
      const pollingOnly = io(`${t.url}/chat`, {
        auth: { token: user.token },
        transports: ['polling'],
        reconnection: false,
        forceNew: true,
      });
      try {
        const error = await new Promise<Error>((resolve) => pollingOnly.once('connect_error', resolve));
        expect(error.message).toBe('xhr poll error');
        expect(pollingOnly.connected).toBe(false);
      } finally {
        pollingOnly.close();
      }

      const socket = await t.sockets.open(user);
      expect(socket.io.engine.transport.name).toBe('websocket');
    });
  });

  describe('accepted connections', () => {
    it('should connect with the token register returned', async () => {
      const user = await signUp(t.url, 'hs');

      const socket = await t.sockets.open(user);

      expect(socket.connected).toBe(true);
      await expectSignedIn(socket, user);
    });

    it('should connect with a token signed with the server secret that has not expired', async () => {
      const user = await signUp(t.url, 'hs');
      const token = await signLocalToken(t.config.auth.localJwtSecret, user.id, nowSeconds() + 3600);

      const socket = await connectSocket(t.url, token);
      try {
        expect(socket.connected).toBe(true);
        await expectSignedIn(socket, user);
      } finally {
        socket.close();
      }
    });

    it('should send session:expiring at once, then session:expired and a disconnect when the token expires', async () => {
      const user = await signUp(t.url, 'hs');
      // The one place a wait is inherent: the token lives 2 s; the test awaits the server's events.
      const exp = nowSeconds() + 2;
      const token = await signLocalToken(t.config.auth.localJwtSecret, user.id, exp);
      // Listening from before the connection: session:expiring comes right after it (the token lives less than
      // SESSION_EXPIRING_NOTICE_SECONDS, 300 s by default).
      const socket = io(`${t.url}/chat`, {
        auth: { token },
        transports: ['websocket'],
        reconnection: false,
        forceNew: true,
      });
      try {
        const order: string[] = [];
        const received = collectAll(socket);
        socket.on('session:expiring', () => order.push('session:expiring'));
        socket.on('session:expired', () => order.push('session:expired'));
        socket.on('disconnect', () => order.push('disconnect'));
        const expiring = nextEvent(socket, 'session:expiring');
        const expired = nextEvent(socket, 'session:expired');
        const reason = nextDisconnect(socket);

        await expect(reason).resolves.toBe('io server disconnect');
        await expired;

        expect(await expiring).toEqual({ expiresAt: new Date(exp * 1000).toISOString() });
        expect(order).toEqual(['session:expiring', 'session:expired', 'disconnect']);
        expect(received).toEqual([
          ['session:expiring', { expiresAt: new Date(exp * 1000).toISOString() }],
          ['session:expired', { code: 'UNAUTHENTICATED', message: expect.any(String) }],
        ]);
        expect(socket.connected).toBe(false);
        expectUnauthenticated(await refusedConnection(t.url, { token }), token);
      } finally {
        socket.close();
      }
    }, 20_000);
  });
});
