import { ParseUUIDPipe } from '@nestjs/common';
import { AppException } from '../../common/errors/app.exception';

/** A path id that is not a UUID names nothing: NOT_FOUND, like an id that does not exist. */
export function uuidPipe(what: 'Room' | 'Profile' | 'Member' | 'Message' | 'Report'): ParseUUIDPipe {
  return new ParseUUIDPipe({ exceptionFactory: () => AppException.notFound(what) });
}
