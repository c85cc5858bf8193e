import { Inject, Injectable } from '@nestjs/common';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import type { Socket } from 'socket.io';
import { AppException } from '../../common/errors/app.exception';
import { ErrorCode } from '../../common/errors/error-code';
import type { AuthUser } from './auth-user';
import { bearerToken } from './bearer-token';
import { InvalidTokenError, TOKEN_VERIFIER, type TokenVerifier } from './token.service';

/** What a socket carries once its handshake is authenticated. */
export interface AuthenticatedSocketData {
  user: AuthUser;
}

/**
 * The socket edge's HttpAuthGuard: Socket.IO namespace middleware that verifies the handshake's token
 * (`auth: { token }`, or an `Authorization: Bearer` header) before the connection is accepted, and refuses
 * it with `{ code: "UNAUTHENTICATED", message }` otherwise (PROTOCOL.md §4).
 */
@Injectable()
export class SocketAuthMiddleware {
  constructor(
    @InjectPinoLogger(SocketAuthMiddleware.name) private readonly logger: PinoLogger,
    @Inject(TOKEN_VERIFIER) private readonly tokens: TokenVerifier,
  ) {}

  /** For `namespace.use(...)`. */
  readonly use = (socket: Socket, next: (error?: Error) => void): void => {
    this.authenticate(socket).then(
      () => next(),
      (error: unknown) => next(error as Error),
    );
  };

  private async authenticate(socket: Socket): Promise<void> {
    const auth = socket.handshake.auth as { token?: unknown } | undefined;
    const token = typeof auth?.token === 'string' ? auth.token : bearerToken(socket.handshake.headers.authorization);
    try {
      if (!token) {
        throw new InvalidTokenError('Send a token: io(url, { auth: { token } })');
      }
      (socket.data as AuthenticatedSocketData).user = await this.tokens.verify(token);
    } catch (error) {
      if (!(error instanceof InvalidTokenError) && !(error instanceof AppException)) {
        this.logger.error({ err: error }, 'socket authentication failed');
      }
      const message = error instanceof InvalidTokenError ? error.message : 'Authentication failed';
      const refusal = new Error(ErrorCode.UNAUTHENTICATED) as Error & { data: unknown };
      refusal.data = { code: ErrorCode.UNAUTHENTICATED, message };
      throw refusal;
    }
  }
}
