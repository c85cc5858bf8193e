import { type CanActivate, type ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { AppException } from '../../common/errors/app.exception';
import { ErrorCode } from '../../common/errors/error-code';
import { DEFAULT_THROTTLER, HTTP_RATE_WINDOW_MS, ipSubject } from '../../common/rate-limit/app-throttler.guard';
import { RateLimiter } from '../../common/rate-limit/rate-limiter.service';
import { APP_CONFIG, type AppConfig } from '../../config/app-config';
import type { AuthUser } from './auth-user';
import { bearerToken } from './bearer-token';
import { IS_PUBLIC } from './public.decorator';
import { InvalidTokenError, TOKEN_VERIFIER, type TokenVerifier } from './token.service';

/**
 * Every route needs `Authorization: Bearer <jwt>` unless marked @Public(). This guard runs before the throttler
 * (which counts a signed-in caller per user), so a call that fails authentication is counted here, against its
 * IP, in the throttler's own budget (RATE_HTTP_PER_MINUTE, across instances with Redis): a flood of bad tokens
 * gets RATE_LIMITED, not an endless run of UNAUTHENTICATED.
 */
@Injectable()
export class HttpAuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    @Inject(TOKEN_VERIFIER) private readonly tokens: TokenVerifier,
    private readonly limiter: RateLimiter,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
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
    try {
      req.user = await this.authenticate(req);
    } catch (error) {
      if (error instanceof AppException && error.code === ErrorCode.UNAUTHENTICATED) {
        await this.countAgainstIp(req);
      }
      throw error;
    }
    return true;
  }

  private async authenticate(req: Request): Promise<AuthUser> {
    const token = bearerToken(req.headers.authorization);
    if (!token) {
      throw new AppException(ErrorCode.UNAUTHENTICATED, 'Send a bearer token: Authorization: Bearer <token>');
    }
    try {
      return await this.tokens.verify(token);
    } catch (error) {
      if (error instanceof InvalidTokenError) {
        throw new AppException(ErrorCode.UNAUTHENTICATED, error.message);
      }
      throw error;
    }
  }

  /** One more call of the IP before sign-in; over the budget, RATE_LIMITED (with Retry-After) instead of 401. */
  private async countAgainstIp(req: Request): Promise<void> {
    const { allowed, retryAfterMs } = await this.limiter.consume(
      DEFAULT_THROTTLER,
      ipSubject(req),
      this.config.rates.httpPerMinute,
      HTTP_RATE_WINDOW_MS,
    );
    if (!allowed) {
      throw AppException.rateLimited(retryAfterMs);
    }
  }
}
