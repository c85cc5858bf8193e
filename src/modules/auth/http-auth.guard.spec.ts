import type { ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ThrottlerStorageService } from '@nestjs/throttler';
import { randomInt, randomUUID } from 'node:crypto';
import { AppException } from '../../common/errors/app.exception';
import { ErrorCode } from '../../common/errors/error-code';
import { RateLimiter } from '../../common/rate-limit/rate-limiter.service';
import { loadConfig } from '../../config/app-config';
import type { AuthUser } from './auth-user';
import { HttpAuthGuard } from './http-auth.guard';
import { InvalidTokenError, type TokenVerifier } from './token.service';

const GOOD_TOKEN = 'good-token';

class Controller {
  handle(): void {}
}

/** Accepts GOOD_TOKEN only. */
const verifier: TokenVerifier = {
  verify: (token) =>
    token === GOOD_TOKEN
      ? Promise.resolve<AuthUser>({ id: randomUUID(), claims: {}, expiresAt: Date.now() + 60_000, accessToken: token })
      : Promise.reject(new InvalidTokenError('The token is not valid')),
};

function makeSut(httpPerMinute: number): { sut: HttpAuthGuard; storage: ThrottlerStorageService } {
  const storage = new ThrottlerStorageService();
  const config = loadConfig({ LOCAL_JWT_SECRET: 'x'.repeat(40), RATE_HTTP_PER_MINUTE: String(httpPerMinute) });
  return { sut: new HttpAuthGuard(new Reflector(), verifier, new RateLimiter(storage), config), storage };
}

function freshIp(): string {
  return `10.${randomInt(256)}.${randomInt(256)}.${randomInt(1, 255)}`;
}

function httpContext(ip: string, authorization?: string): ExecutionContext {
  const req = { ip, headers: authorization ? { authorization } : {} };
  return {
    getType: () => 'http',
    getHandler: () => Controller.prototype.handle,
    getClass: () => Controller,
    switchToHttp: () => ({ getRequest: () => req }),
  } as unknown as ExecutionContext;
}

async function outcome(sut: HttpAuthGuard, context: ExecutionContext): Promise<ErrorCode | 'allowed'> {
  try {
    await sut.canActivate(context);
    return 'allowed';
  } catch (error) {
    if (error instanceof AppException) {
      return error.code;
    }
    throw error;
  }
}

describe(HttpAuthGuard.name, () => {
  it('should answer UNAUTHENTICATED to bad or missing tokens until the IP is over its budget, then RATE_LIMITED', async () => {
    const { sut } = makeSut(3);
    const ip = freshIp();

    const outcomes = [
      await outcome(sut, httpContext(ip, 'Bearer bad')),
      await outcome(sut, httpContext(ip)),
      await outcome(sut, httpContext(ip, 'Bearer also-bad')),
      await outcome(sut, httpContext(ip, 'Bearer bad')),
      await outcome(sut, httpContext(ip)),
    ];

    expect(outcomes).toEqual([
      ErrorCode.UNAUTHENTICATED,
      ErrorCode.UNAUTHENTICATED,
      ErrorCode.UNAUTHENTICATED,
      ErrorCode.RATE_LIMITED,
      ErrorCode.RATE_LIMITED,
    ]);
  });

  it('should give RATE_LIMITED a retry time within the minute', async () => {
    const { sut } = makeSut(1);
    const ip = freshIp();
    await outcome(sut, httpContext(ip));

    const error = await sut.canActivate(httpContext(ip)).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(AppException);
    expect((error as AppException).retryAfterMs).toBeGreaterThan(0);
    expect((error as AppException).retryAfterMs).toBeLessThanOrEqual(60_000);
  });

  it('should count in the throttler’s key for the IP (default:ip:<ip>), and nothing for a good token', async () => {
    const { sut, storage } = makeSut(10);
    const ip = freshIp();
    /** One more request of the IP, counted the way the throttler counts it; its total. */
    const countInThrottler = async () =>
      (await storage.increment(`default:ip:${ip}`, 60_000, 10, 0, 'default')).totalHits;

    expect(await outcome(sut, httpContext(ip, `Bearer ${GOOD_TOKEN}`))).toBe('allowed');
    expect(await countInThrottler()).toBe(1);
    expect(await outcome(sut, httpContext(ip, 'Bearer bad'))).toBe(ErrorCode.UNAUTHENTICATED);

    // The one counted above, the bad token, this one.
    expect(await countInThrottler()).toBe(3);
  });

  it('should keep serving a good token from an IP over its budget (signed-in callers count per user)', async () => {
    const { sut } = makeSut(1);
    const ip = freshIp();
    await outcome(sut, httpContext(ip));
    expect(await outcome(sut, httpContext(ip))).toBe(ErrorCode.RATE_LIMITED);

    expect(await outcome(sut, httpContext(ip, `Bearer ${GOOD_TOKEN}`))).toBe('allowed');
  });

  it('should keep other IPs apart', async () => {
    const { sut } = makeSut(1);
    const ip = freshIp();
    await outcome(sut, httpContext(ip));

    expect(await outcome(sut, httpContext(freshIp()))).toBe(ErrorCode.UNAUTHENTICATED);
  });
});
