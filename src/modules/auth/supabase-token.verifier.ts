import { Inject, Injectable } from '@nestjs/common';
import { createRemoteJWKSet, decodeProtectedHeader, errors, jwtVerify, type JWTPayload } from 'jose';
import { AppException } from '../../common/errors/app.exception';
import { ErrorCode } from '../../common/errors/error-code';
import { APP_CONFIG, type AppConfig } from '../../config/app-config';
import { DATABASE, userActor, type Database } from '../persistence/database.port';
import type { AuthUser } from './auth-user';
import { InvalidTokenError, type TokenVerifier } from './token.service';

const AUDIENCE = 'authenticated';
const ASYMMETRIC = ['ES256', 'RS256', 'EdDSA'];
/** An unknown `kid` refetches the project's keys at most this often (rotation is picked up, abuse is not). */
const JWKS_COOLDOWN_MS = 1000;
/** Profiles known to exist, so first-sight creation costs one call per user per process, not per request. */
const KNOWN_PROFILES_MAX = 10_000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Verifies Supabase Auth access tokens locally (no network call per request): asymmetric keys from the
 * project's JWKS (cached, refetched on an unknown `kid`), or the legacy shared secret (HS256) where the
 * project still uses it; issuer `<SUPABASE_URL>/auth/v1`, audience `authenticated`. The caller's profile
 * is created on first sight from the token's claims.
 */
@Injectable()
export class SupabaseTokenVerifier implements TokenVerifier {
  private readonly issuer: string;
  private readonly jwks?: ReturnType<typeof createRemoteJWKSet>;
  private readonly secret?: Uint8Array;
  private readonly known = new Set<string>();

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    @Inject(DATABASE) private readonly db: Database,
  ) {
    const base = (config.supabase.url ?? '').replace(/\/+$/, '');
    this.issuer = `${base}/auth/v1`;
    if (config.auth.mode === 'supabase') {
      this.jwks = createRemoteJWKSet(new URL(`${this.issuer}/.well-known/jwks.json`), {
        cooldownDuration: JWKS_COOLDOWN_MS,
        timeoutDuration: 5000,
      });
    }
    if (config.supabase.jwtSecret) {
      this.secret = new TextEncoder().encode(config.supabase.jwtSecret);
    }
  }

  async verify(token: string): Promise<AuthUser> {
    const payload = await this.verifySignature(token);
    const sub = payload.sub ?? '';
    if (!UUID.test(sub)) {
      throw new InvalidTokenError('The token has no valid subject');
    }
    // Only a signed-in user's token: a service_role (or any other role's) token would bypass RLS.
    if (payload.role !== AUDIENCE) {
      throw new InvalidTokenError('The token is not a signed-in user’s');
    }
    const user: AuthUser = {
      id: sub,
      claims: { ...payload },
      expiresAt: (payload.exp ?? 0) * 1000,
      accessToken: token,
    };
    await this.ensureProfile(user, payload);
    return user;
  }

  private async verifySignature(token: string): Promise<JWTPayload> {
    const options = { issuer: this.issuer, audience: AUDIENCE, requiredClaims: ['sub', 'exp'] };
    try {
      const { alg } = decodeProtectedHeader(token);
      if (alg === 'HS256') {
        if (!this.secret) {
          throw new InvalidTokenError('The token is not valid');
        }
        return (await jwtVerify(token, this.secret, { ...options, algorithms: ['HS256'] })).payload;
      }
      if (!this.jwks) {
        throw new InvalidTokenError('The token is not valid');
      }
      return (await jwtVerify(token, this.jwks, { ...options, algorithms: ASYMMETRIC })).payload;
    } catch (error) {
      if (error instanceof InvalidTokenError) {
        throw error;
      }
      if (error instanceof errors.JWKSTimeout) {
        throw new AppException(ErrorCode.UNAVAILABLE, 'The identity provider did not answer, try again later');
      }
      if (error instanceof errors.JWTExpired) {
        throw new InvalidTokenError('The token has expired');
      }
      throw new InvalidTokenError('The token is not valid');
    }
  }

  private async ensureProfile(user: AuthUser, payload: JWTPayload): Promise<void> {
    if (this.known.has(user.id)) {
      return;
    }
    const metadata = (typeof payload.user_metadata === 'object' && payload.user_metadata) || {};
    const text = (value: unknown) => (typeof value === 'string' && value.trim() ? value.trim() : undefined);
    const email = text(payload.email);
    const hint =
      text((metadata as Record<string, unknown>).username) ??
      text((metadata as Record<string, unknown>).user_name) ??
      text((metadata as Record<string, unknown>).preferred_username) ??
      email?.split('@')[0];
    const displayName =
      text((metadata as Record<string, unknown>).full_name) ?? text((metadata as Record<string, unknown>).name) ?? hint;
    const avatar = text((metadata as Record<string, unknown>).avatar_url);
    await this.db.call(userActor(user.id, user.claims, user.accessToken), 'ensure_profile', {
      p_username_hint: hint ?? null,
      p_display_name: displayName ?? null,
      p_avatar_url: avatar && /^https?:\/\//.test(avatar) ? avatar : null,
    });
    if (this.known.size >= KNOWN_PROFILES_MAX) {
      this.known.clear();
    }
    this.known.add(user.id);
  }
}
