import { AppException } from '../../common/errors/app.exception';
import { ErrorCode } from '../../common/errors/error-code';

const UNAVAILABLE = 'The database is unavailable, try again later';
const TOO_SLOW = 'The database did not answer in time, try again later';
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
  const fail = (errorCode: ErrorCode, people: string) =>
    new AppException(errorCode, people, undefined, undefined, { cause: error });
  if (typeof code !== 'string') {
    return /connection|terminated|timeout/i.test(text) ? fail(ErrorCode.UNAVAILABLE, UNAVAILABLE) : undefined;
  }
  switch (code) {
    case 'CH400':
      return fail(ErrorCode.VALIDATION_FAILED, text);
    case 'CH401':
      return fail(ErrorCode.UNAUTHENTICATED, 'Sign in first');
    case 'CH403':
      return fail(ErrorCode.FORBIDDEN, text);
    case 'CH404':
      return fail(ErrorCode.NOT_FOUND, text);
    case 'CH409':
      return fail(ErrorCode.CONFLICT, text);
    case '23505':
      return fail(ErrorCode.CONFLICT, 'That already exists');
    case '23503':
      return fail(ErrorCode.NOT_FOUND, 'A referenced record does not exist');
    case '42501':
      // A row-level security refusal: never tell the caller what exists.
      return fail(ErrorCode.NOT_FOUND, 'Not found');
    case '57014':
      // A call past its time: the server's statement_timeout, or no answer in time on our side. Worth a retry.
      return fail(ErrorCode.UNAVAILABLE, TOO_SLOW);
  }
  if (CONNECTION_CODES.has(code) || /^(08|53|57P)/.test(code)) {
    return fail(ErrorCode.UNAVAILABLE, UNAVAILABLE);
  }
  if (/^(22|23)/.test(code)) {
    return fail(ErrorCode.VALIDATION_FAILED, 'The input is not valid');
  }
  return undefined;
}
