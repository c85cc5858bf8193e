import { Inject, Injectable } from '@nestjs/common';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import type { Socket } from 'socket.io';
import { AppException } from '../../common/errors/app.exception';
import { ErrorCode } from '../../common/errors/error-code';
import { RateLimiter } from '../../common/rate-limit/rate-limiter.service';
import { APP_CONFIG, type AppConfig } from '../../config/app-config';
import type { AuthUser } from './auth-user';
import { bearerToken } from './bearer-token';
import { clientAddressResolver } from './client-address';
import { socketRefusal } from './socket-refusal';
import { InvalidTokenError, TOKEN_VERIFIER, type TokenVerifier } from './token.service';

const MINUTE_MS = 60_000;
/** IPs remembered as blocked at most; beyond, expired entries are swept. */
const BLOCKED_MAX = 10_000;

/** What a socket carries once its handshake is authenticated. */
export interface AuthenticatedSocketData {
  user: AuthUser;
}

/**
 * The socket edge's HttpAuthGuard: Socket.IO namespace middleware that verifies the handshake's token
 * (`auth: { token }`, or an `Authorization: Bearer` header) before the connection is accepted, and refuses
 * it with `{ code: "UNAUTHENTICATED", message }` otherwise (PROTOCOL.md §4). Handshakes that fail count
 * against the caller's IP (RATE_HANDSHAKES_PER_MINUTE, across instances): over it, the IP's handshakes are
 * refused with `RATE_LIMITED` before any token is looked at.
 */
@Injectable()
export class SocketAuthMiddleware {
  private readonly addressOf: ReturnType<typeof clientAddressResolver>;
  /** IP → when its handshakes are accepted again (this instance's memory of the shared limit). */
  private readonly blocked = new Map<string, number>();

  constructor(
    @InjectPinoLogger(SocketAuthMiddleware.name) private readonly logger: PinoLogger,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(TOKEN_VERIFIER) private readonly tokens: TokenVerifier,
    private readonly rateLimiter: RateLimiter,
  ) {
    this.addressOf = clientAddressResolver(config.trustProxy);
  }

  /** For `namespace.use(...)`. */
  readonly use = (socket: Socket, next: (error?: Error) => void): void => {
    this.authenticate(socket).then(
      () => next(),
      (error: unknown) => next(error as Error),
    );
  };

  private async authenticate(socket: Socket): Promise<void> {
    const address = this.addressOf(socket.request);
    const until = this.blocked.get(address) ?? 0;
    if (until > Date.now()) {
      throw this.overLimit(until - Date.now());
    }
    const auth = socket.handshake.auth as { token?: unknown } | undefined;
    const token = typeof auth?.token === 'string' ? auth.token : bearerToken(socket.handshake.headers.authorization);
    try {
      (socket.data as AuthenticatedSocketData).user = await this.verify(token);
    } catch (error) {
      if (!(error instanceof AppException)) {
        this.logger.error({ err: error }, 'socket authentication failed');
      }
      const rate = await this.rateLimiter.consume(
        'handshake',
        address,
        this.config.rates.handshakesPerMinute,
        MINUTE_MS,
      );
      if (!rate.allowed) {
        this.block(address, rate.retryAfterMs);
        throw this.overLimit(rate.retryAfterMs);
      }
      const message =
        error instanceof AppException && error.code === ErrorCode.UNAUTHENTICATED
          ? error.message
          : 'Authentication failed';
      throw socketRefusal(ErrorCode.UNAUTHENTICATED, message);
    }
  }

  /**
   * Who a socket's token names, verified as at the handshake (local or Supabase, whichever signs the tokens): the
   * handshake's token, and the one `auth:refresh` brings later. A missing, malformed, expired or wrongly signed token
   * is UNAUTHENTICATED with the reason; a verifier that cannot answer (Supabase's keys unreachable) throws its own.
   */
  async verify(token: string | undefined): Promise<AuthUser> {
    try {
      if (!token) {
        throw new InvalidTokenError('Send a token: io(url, { auth: { token } })');
      }
      return await this.tokens.verify(token);
    } catch (error) {
      if (error instanceof InvalidTokenError) {
        throw new AppException(ErrorCode.UNAUTHENTICATED, error.message);
      }
      throw error;
    }
  }

  private overLimit(retryAfterMs: number): Error {
    return socketRefusal(ErrorCode.RATE_LIMITED, 'Too many failed connection attempts from this address', retryAfterMs);
  }

  private block(address: string, ms: number): void {
    if (this.blocked.size >= BLOCKED_MAX) {
      const now = Date.now();
      this.blocked.forEach((until, ip) => until <= now && this.blocked.delete(ip));
    }
    this.blocked.set(address, Date.now() + ms);
  }
}
