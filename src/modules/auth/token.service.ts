import { Inject, Injectable } from '@nestjs/common';
import { errors, jwtVerify, SignJWT } from 'jose';
import { APP_CONFIG, type AppConfig } from '../../config/app-config';
import type { AuthUser } from './auth-user';

const ISSUER = 'chat-backend';
const AUDIENCE = 'authenticated';

export class InvalidTokenError extends Error {
  override readonly name = 'InvalidTokenError';
}

/** Verifies a bearer token and says who the caller is. One implementation per identity provider. */
export interface TokenVerifier {
  verify(token: string): Promise<AuthUser>;
}

export const TOKEN_VERIFIER = Symbol('TOKEN_VERIFIER');

/** Issues and verifies the server's own HS256 access tokens (local mode), with `jose`. */
@Injectable()
export class TokenService implements TokenVerifier {
  private readonly key: Uint8Array;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {
    this.key = new TextEncoder().encode(config.auth.localJwtSecret);
  }

  get ttlSeconds(): number {
    return this.config.auth.localJwtTtlSeconds;
  }

  async issue(profileId: string, ttlSeconds = this.ttlSeconds): Promise<string> {
    return new SignJWT({ role: 'authenticated' })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(profileId)
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(Math.floor(Date.now() / 1000) + ttlSeconds)
      .sign(this.key);
  }

  async verify(token: string): Promise<AuthUser> {
    try {
      const { payload } = await jwtVerify(token, this.key, {
        algorithms: ['HS256'],
        issuer: ISSUER,
        audience: AUDIENCE,
        requiredClaims: ['sub', 'exp'],
      });
      const sub = payload.sub ?? '';
      if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(sub)) {
        throw new InvalidTokenError('The token has no valid subject');
      }
      return { id: sub, claims: { ...payload }, expiresAt: (payload.exp ?? 0) * 1000, accessToken: token };
    } catch (error) {
      if (error instanceof InvalidTokenError) {
        throw error;
      }
      if (error instanceof errors.JWTExpired) {
        throw new InvalidTokenError('The token has expired');
      }
      if (error instanceof errors.JOSEError || error instanceof TypeError) {
        throw new InvalidTokenError('The token is not valid');
      }
      throw error;
    }
  }
}
