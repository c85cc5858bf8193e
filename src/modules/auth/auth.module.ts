import { Module } from '@nestjs/common';
import { AuthController } from './auth.controller';
import { AuthService } from './auth.service';
import { HttpAuthGuard } from './http-auth.guard';
import { LocalCredentialsRepository } from './local-credentials.repository';
import { PasswordHasher } from './password-hasher.service';
import { TokenService } from './token.service';

@Module({
  controllers: [AuthController],
  providers: [AuthService, LocalCredentialsRepository, PasswordHasher, TokenService, HttpAuthGuard],
  exports: [TokenService, HttpAuthGuard],
})
export class AuthModule {}
