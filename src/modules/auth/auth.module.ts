import { Module } from '@nestjs/common';
import { AuthController } from './auth.controller';
import { AuthService } from './auth.service';
import { HttpAuthGuard } from './http-auth.guard';
import { LocalCredentialsRepository } from './local-credentials.repository';
import { PasswordHasher } from './password-hasher.service';
import { RefreshTokensRepository } from './refresh-tokens.repository';
import { SocketAuthMiddleware } from './socket-auth.middleware';
import { SupabaseTokenVerifier } from './supabase-token.verifier';
import { TOKEN_VERIFIER, TokenService } from './token.service';
import { APP_CONFIG, type AppConfig } from '../../config/app-config';
import { PushModule } from '../push/push.module';

@Module({
  imports: [PushModule],
  controllers: [AuthController],
  providers: [
    AuthService,
    LocalCredentialsRepository,
    RefreshTokensRepository,
    PasswordHasher,
    TokenService,
    SupabaseTokenVerifier,
    {
      // Who signs the tokens: this server (local mode) or the Supabase project.
      provide: TOKEN_VERIFIER,
      inject: [APP_CONFIG, TokenService, SupabaseTokenVerifier],
      useFactory: (config: AppConfig, local: TokenService, supabase: SupabaseTokenVerifier) =>
        config.auth.mode === 'supabase' ? supabase : local,
    },
    HttpAuthGuard,
    SocketAuthMiddleware,
  ],
  exports: [TOKEN_VERIFIER, HttpAuthGuard, SocketAuthMiddleware],
})
export class AuthModule {}
