import { Injectable } from '@nestjs/common';
import { AppException } from '../../common/errors/app.exception';
import { ErrorCode } from '../../common/errors/error-code';
import type { ProfileDto } from './dto/profile.dto';
import type { SessionDto } from './dto/auth.dto';
import { LocalCredentialsRepository } from './local-credentials.repository';
import { PasswordHasher } from './password-hasher.service';
import { TokenService } from './token.service';

/** Local mode: the server is its own identity provider. */
@Injectable()
export class AuthService {
  constructor(
    private readonly credentials: LocalCredentialsRepository,
    private readonly hasher: PasswordHasher,
    private readonly tokens: TokenService,
  ) {}

  async register(username: string, password: string, displayName?: string): Promise<SessionDto> {
    const hash = await this.hasher.hash(password);
    try {
      return this.session(await this.credentials.register(username, displayName?.trim() || username, hash));
    } catch (error) {
      if (error instanceof AppException && error.code === ErrorCode.CONFLICT) {
        throw new AppException(ErrorCode.CONFLICT, 'That username is taken');
      }
      throw error;
    }
  }

  /** The same answer, after the same work, whether the user exists or not. */
  async login(username: string, password: string): Promise<SessionDto> {
    const found = await this.credentials.findByUsername(username);
    const ok = await this.hasher.verify(password, found?.passwordHash);
    if (!found || !ok) {
      throw new AppException(ErrorCode.UNAUTHENTICATED, 'Wrong username or password');
    }
    return this.session(found.profile);
  }

  private async session(profile: ProfileDto): Promise<SessionDto> {
    return {
      accessToken: await this.tokens.issue(profile.id),
      tokenType: 'Bearer',
      expiresIn: this.tokens.ttlSeconds,
      profile,
    };
  }
}
