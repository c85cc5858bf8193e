import { Body, Controller, HttpCode, Inject, Post } from '@nestjs/common';
import { ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { LoginDto, RegisterDto, SessionDto } from './dto/auth.dto';
import { AuthService } from './auth.service';
import { AppException } from '../../common/errors/app.exception';
import { APP_CONFIG, type AppConfig } from '../../config/app-config';
import { Public } from './public.decorator';
import { AuthRateLimit } from '../../common/rate-limit/app-throttler.guard';

@ApiTags('auth')
@Public()
@AuthRateLimit()
@Controller('api/auth')
export class AuthController {
  constructor(
    private readonly auth: AuthService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @Post('register')
  @ApiOperation({ summary: 'Create a local account and sign in' })
  @ApiResponse({ status: 201, type: SessionDto })
  register(@Body() body: RegisterDto): Promise<SessionDto> {
    this.requireLocalMode();
    return this.auth.register(body.username, body.password, body.displayName);
  }

  @Post('login')
  @HttpCode(200)
  @ApiOperation({ summary: 'Sign in with username and password' })
  @ApiResponse({ status: 200, type: SessionDto })
  login(@Body() body: LoginDto): Promise<SessionDto> {
    this.requireLocalMode();
    return this.auth.login(body.username, body.password);
  }

  /** With Supabase, people sign in with Supabase Auth: these routes do not exist. */
  private requireLocalMode(): void {
    if (this.config.auth.mode !== 'local') {
      throw AppException.notFound('Route');
    }
  }
}
