import { randomUUID } from 'node:crypto';
import { AppException } from '../../../common/errors/app.exception';
import { ErrorCode } from '../../../common/errors/error-code';
import type { AppConfig } from '../../../config/app-config';
import type { AuthUser } from '../../auth/auth-user';
import type { SocketAuthMiddleware } from '../../auth/socket-auth.middleware';
import { SocketSessionService, type SessionData, type SessionSocket } from './socket-session.service';

const NOTICE_SECONDS = 300;
const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

function makeUser(id: string, expiresInMs: number): AuthUser {
  const expiresAt = Date.now() + expiresInMs;
  return { id, claims: { sub: id }, expiresAt, accessToken: `token-${randomUUID()}` };
}

/** A socket that records what it is sent, in order, with `disconnect` among the events. */
class FakeSocket implements SessionSocket {
  connected = true;
  readonly log: [string, unknown][] = [];

  constructor(public data: SessionData) {}

  emit(event: string, payload: unknown): boolean {
    this.log.push([event, payload]);
    return true;
  }

  disconnect(): void {
    this.connected = false;
    this.log.push(['disconnect', undefined]);
  }

  get events(): string[] {
    return this.log.map(([event]) => event);
  }
}

/** Verifies "tokens" by looking them up: a token names the user it was made for, any other is UNAUTHENTICATED. */
class FakeVerifier {
  readonly users = new Map<string, AuthUser>();

  tokenFor(user: AuthUser): string {
    this.users.set(user.accessToken, user);
    return user.accessToken;
  }

  verify(token: string): Promise<AuthUser> {
    const user = this.users.get(token);
    return user ? Promise.resolve(user) : Promise.reject(new AppException(ErrorCode.UNAUTHENTICATED, 'Not valid'));
  }
}

function makeHarness() {
  const verifier = new FakeVerifier();
  const config = { auth: { sessionExpiringNoticeSeconds: NOTICE_SECONDS } } as AppConfig;
  const sut = new SocketSessionService(config, verifier as unknown as SocketAuthMiddleware);
  const connect = (user: AuthUser) => {
    const socket = new FakeSocket({ user });
    sut.start(socket);
    return socket;
  };
  return { sut, verifier, connect };
}

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
  } catch (error) {
    return error instanceof AppException ? error.code : 'not an AppException';
  }
  return undefined;
}

describe(SocketSessionService.name, () => {
  beforeEach(() => {
    jest.useFakeTimers({ now: new Date('2026-11-30T12:00:00.000Z') });
  });

  afterEach(() => {
    jest.useRealTimers();
  });

  describe('a token that lives longer than the notice', () => {
    it('should send session:expiring the notice before expiry, then session:expired and disconnect at expiry', () => {
      const { connect } = makeHarness();
      const user = makeUser(randomUUID(), 60 * MINUTE);
      const socket = connect(user);

      jest.advanceTimersByTime(55 * MINUTE - 1);
      expect(socket.log).toEqual([]);
      jest.advanceTimersByTime(1);
      expect(socket.log).toEqual([['session:expiring', { expiresAt: new Date(user.expiresAt).toISOString() }]]);

      jest.advanceTimersByTime(5 * MINUTE - 1);
      expect(socket.events).toEqual(['session:expiring']);
      jest.advanceTimersByTime(1);
      expect(socket.log.slice(1)).toEqual([
        ['session:expired', { code: 'UNAUTHENTICATED', message: 'The session expired' }],
        ['disconnect', undefined],
      ]);
    });
  });

  describe('a token that lives shorter than the notice', () => {
    it('should send session:expiring at once, and session:expired at expiry', () => {
      const { connect } = makeHarness();
      const user = makeUser(randomUUID(), 2 * MINUTE);
      const socket = connect(user);

      jest.advanceTimersByTime(0);
      expect(socket.log).toEqual([['session:expiring', { expiresAt: new Date(user.expiresAt).toISOString() }]]);
      jest.advanceTimersByTime(2 * MINUTE);
      expect(socket.events).toEqual(['session:expiring', 'session:expired', 'disconnect']);
    });
  });

  describe('a token that lives longer than a timer can wait', () => {
    it('should not end the session before the token expires (setTimeout waits 24.8 days at most)', () => {
      const { connect } = makeHarness();
      const user = makeUser(randomUUID(), 30 * DAY);
      const socket = connect(user);

      jest.advanceTimersByTime(30 * DAY - NOTICE_SECONDS * 1000 - 1);
      expect(socket.log).toEqual([]);
      jest.advanceTimersByTime(1);
      expect(socket.events).toEqual(['session:expiring']);
      jest.advanceTimersByTime(NOTICE_SECONDS * 1000);
      expect(socket.events).toEqual(['session:expiring', 'session:expired', 'disconnect']);
    });
  });

  describe('renew', () => {
    it('should take a token of the same user, answer its expiry and move both timers to it', async () => {
      const { sut, verifier, connect } = makeHarness();
      const id = randomUUID();
      const socket = connect(makeUser(id, 10 * MINUTE));
      const fresh = makeUser(id, 60 * MINUTE);

      const answer = await sut.renew(socket, verifier.tokenFor(fresh));

      expect(answer).toEqual({ expiresAt: new Date(fresh.expiresAt).toISOString() });
      expect(socket.data.user).toBe(fresh);
      jest.advanceTimersByTime(55 * MINUTE - 1);
      expect(socket.log).toEqual([]);
      jest.advanceTimersByTime(1);
      expect(socket.log).toEqual([['session:expiring', { expiresAt: new Date(fresh.expiresAt).toISOString() }]]);
      jest.advanceTimersByTime(5 * MINUTE);
      expect(socket.events).toEqual(['session:expiring', 'session:expired', 'disconnect']);
    });

    it('should send session:expiring again for a renewed token that lives shorter than the notice', async () => {
      const { sut, verifier, connect } = makeHarness();
      const id = randomUUID();
      const first = makeUser(id, MINUTE);
      const socket = connect(first);
      jest.advanceTimersByTime(0);
      const fresh = makeUser(id, 2 * MINUTE);

      await sut.renew(socket, verifier.tokenFor(fresh));
      jest.advanceTimersByTime(0);

      expect(socket.log).toEqual([
        ['session:expiring', { expiresAt: new Date(first.expiresAt).toISOString() }],
        ['session:expiring', { expiresAt: new Date(fresh.expiresAt).toISOString() }],
      ]);
      jest.advanceTimersByTime(MINUTE);
      expect(socket.connected).toBe(true);
      jest.advanceTimersByTime(MINUTE);
      expect(socket.events.slice(2)).toEqual(['session:expired', 'disconnect']);
    });

    it('should refuse another user’s token with FORBIDDEN, keep the session, and disconnect after answering', async () => {
      const { sut, verifier, connect } = makeHarness();
      const mine = makeUser(randomUUID(), 60 * MINUTE);
      const socket = connect(mine);

      const code = await codeOf(sut.renew(socket, verifier.tokenFor(makeUser(randomUUID(), 60 * MINUTE))));

      expect(code).toBe(ErrorCode.FORBIDDEN);
      expect(socket.data.user).toBe(mine);
      // Not before the answer is out: the disconnect waits for the next turn of the event loop.
      expect(socket.connected).toBe(true);
      jest.advanceTimersByTime(0);
      expect(socket.events).toEqual(['disconnect']);
    });

    it('should refuse a token that does not verify with UNAUTHENTICATED and change nothing', async () => {
      const { sut, connect } = makeHarness();
      const mine = makeUser(randomUUID(), 60 * MINUTE);
      const socket = connect(mine);

      expect(await codeOf(sut.renew(socket, 'not-a-token'))).toBe(ErrorCode.UNAUTHENTICATED);

      expect(socket.data.user).toBe(mine);
      jest.advanceTimersByTime(55 * MINUTE);
      expect(socket.events).toEqual(['session:expiring']);
      jest.advanceTimersByTime(5 * MINUTE);
      expect(socket.events).toEqual(['session:expiring', 'session:expired', 'disconnect']);
    });

    it('should arm nothing for a socket that disconnected while its token was being verified', async () => {
      const { sut, verifier, connect } = makeHarness();
      const id = randomUUID();
      const socket = connect(makeUser(id, 60 * MINUTE));
      const token = verifier.tokenFor(makeUser(id, 120 * MINUTE));

      const renewing = sut.renew(socket, token);
      socket.connected = false;
      sut.end(socket);
      await renewing;

      expect(jest.getTimerCount()).toBe(0);
    });
  });

  describe('end', () => {
    it('should stop both timers of a disconnected socket', () => {
      const { sut, connect } = makeHarness();
      const socket = connect(makeUser(randomUUID(), 60 * MINUTE));

      sut.end(socket);
      jest.advanceTimersByTime(2 * 60 * MINUTE);

      expect(socket.log).toEqual([]);
      expect(jest.getTimerCount()).toBe(0);
    });
  });
});
