import { AppException } from '../../common/errors/app.exception';
import { ErrorCode } from '../../common/errors/error-code';

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN']);

/**
 * Maps a database error (a Postgres SQLSTATE, our own CHxxx codes, or a connection failure) onto the
 * contract's codes. Returns undefined for anything that is a bug, so the caller reports INTERNAL.
 */
export function mapDatabaseError(error: unknown): AppException | undefined {
  if (typeof error !== 'object' || error === null) {
    return undefined;
  }
  const { code, message } = error as { code?: unknown; message?: unknown };
  const text = typeof message === 'string' ? message : '';
  if (typeof code !== 'string') {
    return /connection|terminated|timeout/i.test(text)
      ? new AppException(ErrorCode.UNAVAILABLE, 'The database is unavailable, try again later')
      : undefined;
  }
  switch (code) {
    case 'CH400':
      return new AppException(ErrorCode.VALIDATION_FAILED, text);
    case 'CH401':
      return new AppException(ErrorCode.UNAUTHENTICATED, 'Sign in first');
    case 'CH403':
      return new AppException(ErrorCode.FORBIDDEN, text);
    case 'CH404':
      return new AppException(ErrorCode.NOT_FOUND, text);
    case 'CH409':
      return new AppException(ErrorCode.CONFLICT, text);
    case '23505':
      return new AppException(ErrorCode.CONFLICT, 'That already exists');
    case '23503':
      return new AppException(ErrorCode.NOT_FOUND, 'A referenced record does not exist');
    case '42501':
      // A row-level security refusal: never tell the caller what exists.
      return new AppException(ErrorCode.NOT_FOUND, 'Not found');
  }
  if (CONNECTION_CODES.has(code) || /^(08|53|57P)/.test(code)) {
    return new AppException(ErrorCode.UNAVAILABLE, 'The database is unavailable, try again later');
  }
  if (/^(22|23)/.test(code)) {
    return new AppException(ErrorCode.VALIDATION_FAILED, 'The input is not valid');
  }
  return undefined;
}
