import { Inject, Injectable } from '@nestjs/common';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { AppException } from '../../common/errors/app.exception';
import { ErrorCode } from '../../common/errors/error-code';
import { APP_CONFIG, type AppConfig } from '../../config/app-config';
import type { ProfileDto } from './dto/profile.dto';
import type { SessionDto } from './dto/auth.dto';
import { LocalCredentialsRepository } from './local-credentials.repository';
import { PasswordHasher } from './password-hasher.service';
import { hashRefreshToken, newRefreshToken } from './refresh-token';
import { RefreshTokensRepository } from './refresh-tokens.repository';
import { TokenService } from './token.service';
import { DevicesRepository } from '../push/devices.repository';

/**
 * Local mode: the server is its own identity provider. A session is a short-lived access token (a JWT) and an
 * opaque refresh token that gets the next one: each is good once, and one used twice revokes its whole session.
 */
@Injectable()
export class AuthService {
  constructor(
    @InjectPinoLogger(AuthService.name) private readonly logger: PinoLogger,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly credentials: LocalCredentialsRepository,
    private readonly hasher: PasswordHasher,
    private readonly tokens: TokenService,
    private readonly refreshTokens: RefreshTokensRepository,
    private readonly devices: DevicesRepository,
  ) {}

  async register(username: string, password: string, displayName?: string): Promise<SessionDto> {
    const hash = await this.hasher.hash(password);
    let profile: ProfileDto;
    try {
      profile = await this.credentials.register(username, displayName?.trim() || username, hash);
    } catch (error) {
      if (error instanceof AppException && error.code === ErrorCode.CONFLICT) {
        throw new AppException(ErrorCode.CONFLICT, 'That username is taken');
      }
      throw error;
    }
    return this.signIn(profile);
  }

  /** The same answer, after the same work, whether the user exists or not. */
  async login(username: string, password: string): Promise<SessionDto> {
    const found = await this.credentials.findByUsername(username);
    const ok = await this.hasher.verify(password, found?.passwordHash);
    if (!found || !ok) {
      throw new AppException(ErrorCode.UNAUTHENTICATED, 'Wrong username or password');
    }
    return this.signIn(found.profile);
  }

  /**
   * A new session for the refresh token, which is spent. One that is unknown, expired or revoked is UNAUTHENTICATED;
   * so is one spent already, and then its whole session (every token descended from the same sign-in) is revoked:
   * either the client or someone who copied the token used it before.
   */
  async refresh(refreshToken: string): Promise<SessionDto> {
    const next = newRefreshToken();
    const rotation = await this.refreshTokens.rotate(
      hashRefreshToken(refreshToken),
      hashRefreshToken(next),
      this.config.auth.localRefreshTtlSeconds,
    );
    switch (rotation.outcome) {
      case 'rotated':
        return this.session(rotation.profile, next);
      case 'reused':
        this.logger.warn({ profileId: rotation.profileId }, 'refresh token used twice: its session is revoked');
        break;
      case 'revoked':
      case 'invalid':
        break;
    }
    throw new AppException(ErrorCode.UNAUTHENTICATED, 'The session has ended: sign in again');
  }

  /**
   * Ends the session of the refresh token, whatever state it is in; a token it does not know changes nothing. The
   * device's push token goes with it, if it is registered to the session's profile.
   */
  async logout(refreshToken: string, deviceToken?: string): Promise<void> {
    const profileId = await this.refreshTokens.revoke(hashRefreshToken(refreshToken));
    if (profileId) {
      if (deviceToken) {
        await this.devices.removeForProfile(profileId, deviceToken);
      }
      this.logger.info({ profileId }, 'signed out');
    }
  }

  /** A new session: a new family of refresh tokens. */
  private async signIn(profile: ProfileDto): Promise<SessionDto> {
    const refreshToken = newRefreshToken();
    await this.refreshTokens.issue(profile.id, hashRefreshToken(refreshToken), this.config.auth.localRefreshTtlSeconds);
    return this.session(profile, refreshToken);
  }

  private async session(profile: ProfileDto, refreshToken: string): Promise<SessionDto> {
    return {
      accessToken: await this.tokens.issue(profile.id),
      tokenType: 'Bearer',
      expiresIn: this.tokens.ttlSeconds,
      refreshToken,
      refreshExpiresIn: this.config.auth.localRefreshTtlSeconds,
      profile,
    };
  }
}
