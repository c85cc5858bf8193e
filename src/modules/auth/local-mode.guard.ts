import { type CanActivate, Inject, Injectable } from '@nestjs/common';
import { AppException } from '../../common/errors/app.exception';
import { APP_CONFIG, type AppConfig } from '../../config/app-config';

/**
 * Local register and login exist only while the server is its own identity provider: with Supabase,
 * people sign in with Supabase Auth and these routes answer 404 like any route that does not exist
 * (a guard runs before the body is validated).
 */
@Injectable()
export class LocalModeGuard implements CanActivate {
  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  canActivate(): boolean {
    if (this.config.auth.mode !== 'local') {
      throw AppException.notFound('Route');
    }
    return true;
  }
}
