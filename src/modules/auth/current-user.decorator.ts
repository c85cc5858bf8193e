import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';
import { userActor, type UserActor } from '../persistence/database.port';
import type { AuthUser } from './auth-user';

/** The verified caller, as the database actor its calls run as. */
export const CurrentActor = createParamDecorator((_: unknown, context: ExecutionContext): UserActor => {
  const user = context.switchToHttp().getRequest<Request & { user?: AuthUser }>().user;
  if (!user) {
    throw new Error('CurrentActor used on a route without the auth guard');
  }
  return userActor(user.id, user.claims, user.accessToken);
});
