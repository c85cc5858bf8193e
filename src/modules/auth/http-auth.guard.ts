import { type CanActivate, type ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { AppException } from '../../common/errors/app.exception';
import { ErrorCode } from '../../common/errors/error-code';
import type { AuthUser } from './auth-user';
import { bearerToken } from './bearer-token';
import { IS_PUBLIC } from './public.decorator';
import { InvalidTokenError, TOKEN_VERIFIER, type TokenVerifier } from './token.service';

/** Every route needs `Authorization: Bearer <jwt>` unless marked @Public(). */
@Injectable()
export class HttpAuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    @Inject(TOKEN_VERIFIER) private readonly tokens: TokenVerifier,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    // Sockets are authenticated once, at the handshake (SocketAuthMiddleware).
    if (context.getType() !== 'http') {
      return true;
    }
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, [context.getHandler(), context.getClass()])) {
      return true;
    }
    const req = context.switchToHttp().getRequest<Request & { user?: AuthUser }>();
    const token = bearerToken(req.headers.authorization);
    if (!token) {
      throw new AppException(ErrorCode.UNAUTHENTICATED, 'Send a bearer token: Authorization: Bearer <token>');
    }
    try {
      req.user = await this.tokens.verify(token);
    } catch (error) {
      if (error instanceof InvalidTokenError) {
        throw new AppException(ErrorCode.UNAUTHENTICATED, error.message);
      }
      throw error;
    }
    return true;
  }
}
