import { Inject, Injectable } from '@nestjs/common';
import { AppException } from '../../../common/errors/app.exception';
import { ErrorCode } from '../../../common/errors/error-code';
import type { SocketEvents } from '../../../common/realtime/server-events';
import { APP_CONFIG, type AppConfig } from '../../../config/app-config';
import type { AuthUser } from '../../auth/auth-user';
import { SocketAuthMiddleware } from '../../auth/socket-auth.middleware';

/** setTimeout waits at most 2^31 - 1 ms (24.8 days): a later moment is reached in steps. */
const MAX_TIMER_MS = 2_147_483_647;

interface SessionTimers {
  expiring?: NodeJS.Timeout;
  expired?: NodeJS.Timeout;
}

/** What a socket carries of its session: whose it is (the token's user) and the timers of the token's end. */
export interface SessionData {
  user: AuthUser;
  sessionTimers?: SessionTimers;
  /** The rooms the user is a member of, read during the handshake; the socket joins their inboxes on connect. */
  inboxRoomIds?: string[];
  /** The people the user blocked, read during the handshake; the socket joins their blockers' channels on connect. */
  blockedIds?: string[];
}

/** What the service needs of a socket. */
export interface SessionSocket {
  readonly connected: boolean;
  data: SessionData;
  emit(event: 'session:expiring', payload: SocketEvents['session:expiring']): unknown;
  emit(event: 'session:expired', payload: SocketEvents['session:expired']): unknown;
  disconnect(close?: boolean): unknown;
}

/**
 * A socket's session (PROTOCOL.md §4): `session:expiring` SESSION_EXPIRING_NOTICE_SECONDS before its token expires
 * (at once when the token lives less), then `session:expired` and a disconnect when it does — unless `auth:refresh`
 * brought a newer token of the same user first, which the socket then carries (its connection and rooms stay).
 */
@Injectable()
export class SocketSessionService {
  private readonly noticeMs: number;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly auth: SocketAuthMiddleware,
  ) {
    this.noticeMs = config.auth.sessionExpiringNoticeSeconds * 1000;
  }

  /** A socket just connected with the user its handshake verified. */
  start(socket: SessionSocket): void {
    this.arm(socket);
  }

  /**
   * `auth:refresh`: the token is verified as at the handshake; one of the same user replaces the socket's (its database
   * calls carry the new one from now on) and its timers follow the new expiry. Another user's token is FORBIDDEN,
   * and the socket is disconnected once that answer has gone out.
   */
  async renew(socket: SessionSocket, token: string): Promise<{ expiresAt: string }> {
    const user = await this.auth.verify(token);
    if (user.id !== socket.data.user.id) {
      setImmediate(() => socket.disconnect(true));
      throw new AppException(ErrorCode.FORBIDDEN, 'That token is another user’s: connect again with it');
    }
    // A socket that went away meanwhile keeps no timers.
    if (socket.connected) {
      socket.data.user = user;
      this.arm(socket);
    }
    return { expiresAt: new Date(user.expiresAt).toISOString() };
  }

  /** A socket disconnected: its timers stop. */
  end(socket: SessionSocket): void {
    clear(socket.data.sessionTimers);
  }

  private arm(socket: SessionSocket): void {
    clear(socket.data.sessionTimers);
    const timers: SessionTimers = {};
    socket.data.sessionTimers = timers;
    const { expiresAt } = socket.data.user;
    schedule(timers, 'expiring', expiresAt - this.noticeMs, () =>
      socket.emit('session:expiring', { expiresAt: new Date(expiresAt).toISOString() }),
    );
    schedule(timers, 'expired', expiresAt, () => {
      socket.emit('session:expired', { code: ErrorCode.UNAUTHENTICATED, message: 'The session expired' });
      socket.disconnect(true);
    });
  }
}

/** Runs `fire` at `time` (ms since the epoch; at once when it has passed), its timer kept in `timers[name]`. */
function schedule(timers: SessionTimers, name: keyof SessionTimers, time: number, fire: () => void): void {
  const wait = Math.min(Math.max(time - Date.now(), 0), MAX_TIMER_MS);
  timers[name] = setTimeout(() => (Date.now() < time ? schedule(timers, name, time, fire) : fire()), wait);
}

function clear(timers: SessionTimers | undefined): void {
  clearTimeout(timers?.expiring);
  clearTimeout(timers?.expired);
}
