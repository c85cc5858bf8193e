import { Inject, Injectable } from '@nestjs/common';
import type { Socket } from 'socket.io';
import { ErrorCode } from '../../../common/errors/error-code';
import { APP_CONFIG, type AppConfig } from '../../../config/app-config';
import type { AuthenticatedSocketData } from '../../auth/socket-auth.middleware';
import { socketRefusal } from '../../auth/socket-refusal';
import { FloodGuard } from './flood-guard.service';
import { PresenceService } from './presence.service';

/** What a refused client is told to wait before it tries again (after closing another socket). */
const RETRY_AFTER_MS = 5000;

/**
 * At most MAX_SOCKETS_PER_USER sockets per user, on all instances together: the new connection is refused
 * (`RATE_LIMITED`), the open ones are kept — an app that leaks sockets learns it at once, and nobody's
 * working connection is closed under them. A user whose socket was cut off for flooding is refused until the flood
 * window ends. Runs after authentication (it needs the user).
 */
@Injectable()
export class SocketCapMiddleware {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly presence: PresenceService,
    private readonly flood: FloodGuard,
  ) {}

  readonly use = (socket: Socket, next: (error?: Error) => void): void => {
    const { user } = socket.data as AuthenticatedSocketData;
    const cutOff = this.flood.blockedFor(user.id);
    if (cutOff > 0) {
      next(socketRefusal(ErrorCode.RATE_LIMITED, 'Too many events: wait before connecting again', cutOff));
      return;
    }
    const max = this.config.maxSocketsPerUser;
    this.presence.socketCount(user.id).then(
      (count) =>
        next(
          count >= max
            ? socketRefusal(
                ErrorCode.RATE_LIMITED,
                `Too many connections: a user may hold ${max} at once; close one first`,
                RETRY_AFTER_MS,
              )
            : undefined,
        ),
      (error: unknown) => next(error as Error),
    );
  };
}
