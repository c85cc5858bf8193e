import { type ExecutionContext, Injectable, SetMetadata } from '@nestjs/common';
import { ThrottlerGuard, type ThrottlerLimitDetail, type ThrottlerRequest } from '@nestjs/throttler';
import type { Request } from 'express';
import { AppException } from '../errors/app.exception';

export const DEFAULT_THROTTLER = 'default';
export const AUTH_THROTTLER = 'auth';
/** The window of RATE_HTTP_PER_MINUTE. */
export const HTTP_RATE_WINDOW_MS = 60_000;
const AUTH_LIMITED = 'rate:authLimited';

/**
 * Who a request counts against before sign-in: its IP (Express's `req.ip`, which believes X-Forwarded-For only
 * from the proxies TRUST_PROXY names). The same subject for the throttler here and for calls that fail
 * authentication (HttpAuthGuard), so both spend one budget.
 */
export function ipSubject(req: Request): string {
  return `ip:${req.ip ?? 'unknown'}`;
}

/** Register and login: also counted against the stricter per-IP sign-in limit. */
export const AuthRateLimit = (): MethodDecorator & ClassDecorator => SetMetadata(AUTH_LIMITED, true);

/**
 * HTTP rate limits: one budget per user (per IP before sign-in) across all routes, and the sign-in
 * budget per IP on the routes marked @AuthRateLimit(). Over a limit: RATE_LIMITED with Retry-After.
 */
@Injectable()
export class AppThrottlerGuard extends ThrottlerGuard {
  /** Socket events have their own limits (sends, typing), checked where they are handled. */
  override canActivate(context: ExecutionContext): Promise<boolean> {
    return context.getType() === 'http' ? super.canActivate(context) : Promise.resolve(true);
  }

  protected override async handleRequest(request: ThrottlerRequest): Promise<boolean> {
    if (request.throttler.name === AUTH_THROTTLER && !this.isAuthLimited(request.context)) {
      return true;
    }
    return super.handleRequest(request);
  }

  protected override getTracker(req: Request & { user?: { id: string } }): Promise<string> {
    return Promise.resolve(req.user ? `user:${req.user.id}` : ipSubject(req));
  }

  /** `<throttler>:<subject>`, the key RateLimiter.consume(throttler, subject) counts under too. */
  protected override generateKey(_context: ExecutionContext, tracker: string, name: string): string {
    return `${name}:${tracker}`;
  }

  protected override throwThrottlingException(_context: ExecutionContext, detail: ThrottlerLimitDetail): Promise<void> {
    throw AppException.rateLimited(Math.max(1, detail.timeToBlockExpire) * 1000);
  }

  private isAuthLimited(context: ExecutionContext): boolean {
    return this.reflector.getAllAndOverride<boolean>(AUTH_LIMITED, [context.getHandler(), context.getClass()]) === true;
  }
}
