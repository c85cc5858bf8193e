import { Body, Controller, HttpCode, Post, UseGuards } from '@nestjs/common';
import { ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { LoginDto, LogoutDto, RefreshDto, RegisterDto, SessionDto } from './dto/auth.dto';
import { AuthService } from './auth.service';
import { LocalModeGuard } from './local-mode.guard';
import { Public } from './public.decorator';
import { AuthRateLimit } from '../../common/rate-limit/app-throttler.guard';

@ApiTags('auth')
@Public()
@AuthRateLimit()
@UseGuards(LocalModeGuard)
@Controller('api/auth')
export class AuthController {
  constructor(private readonly auth: AuthService) {}

  @Post('register')
  @ApiOperation({ summary: 'Create a local account and sign in' })
  @ApiResponse({ status: 201, type: SessionDto })
  register(@Body() body: RegisterDto): Promise<SessionDto> {
    return this.auth.register(body.username, body.password, body.displayName);
  }

  @Post('login')
  @HttpCode(200)
  @ApiOperation({ summary: 'Sign in with username and password' })
  @ApiResponse({ status: 200, type: SessionDto })
  login(@Body() body: LoginDto): Promise<SessionDto> {
    return this.auth.login(body.username, body.password);
  }

  @Post('refresh')
  @HttpCode(200)
  @ApiOperation({ summary: 'Exchange a refresh token (once) for a new session' })
  @ApiResponse({ status: 200, type: SessionDto })
  refresh(@Body() body: RefreshDto): Promise<SessionDto> {
    return this.auth.refresh(body.refreshToken);
  }

  /** With `deviceToken`, that device's push registration goes too (while it is the session's profile's). */
  @Post('logout')
  @HttpCode(204)
  @ApiOperation({ summary: 'End the session of a refresh token' })
  @ApiResponse({ status: 204 })
  logout(@Body() body: LogoutDto): Promise<void> {
    return this.auth.logout(body.refreshToken, body.deviceToken);
  }
}
