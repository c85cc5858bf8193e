import { HttpException } from '@nestjs/common';
import { ThrottlerException } from '@nestjs/throttler';
import { AppException } from './app.exception';
import { ErrorCode } from './error-code';

/**
 * Turns anything thrown into an AppException. Known framework errors keep their meaning;
 * anything else is INTERNAL, and `unexpected` tells the caller to log it with its stack.
 */
export function toAppException(error: unknown): { exception: AppException; unexpected: boolean } {
  if (error instanceof AppException) {
    return { exception: error, unexpected: error.code === ErrorCode.INTERNAL };
  }
  if (error instanceof ThrottlerException) {
    return { exception: AppException.rateLimited(1000), unexpected: false };
  }
  if (error instanceof HttpException) {
    return { exception: fromHttpStatus(error.getStatus()), unexpected: false };
  }
  const bodyError = fromBodyParser(error);
  if (bodyError) {
    return { exception: bodyError, unexpected: false };
  }
  return { exception: new AppException(ErrorCode.INTERNAL, 'Something went wrong on our side'), unexpected: true };
}

function fromHttpStatus(status: number): AppException {
  switch (status) {
    case 401:
      return new AppException(ErrorCode.UNAUTHENTICATED, 'Sign in first');
    case 403:
      return new AppException(ErrorCode.FORBIDDEN, 'Not allowed');
    case 404:
      return new AppException(ErrorCode.NOT_FOUND, 'Not found');
    case 413:
      return new AppException(ErrorCode.PAYLOAD_TOO_LARGE, 'The request body is too large');
    case 415:
      return new AppException(ErrorCode.VALIDATION_FAILED, 'The request body must be JSON', [
        { field: 'body', message: 'must be application/json' },
      ]);
    case 429:
      return AppException.rateLimited(1000);
    case 503:
      return new AppException(ErrorCode.UNAVAILABLE, 'Service unavailable, try again later');
    default:
      return status >= 400 && status < 500
        ? new AppException(ErrorCode.VALIDATION_FAILED, 'The request is not valid')
        : new AppException(ErrorCode.INTERNAL, 'Something went wrong on our side');
  }
}

/**
 * body-parser's errors carry a 4xx `status`: its own (malformed JSON, oversized body, bad charset or encoding) also a
 * `type`; a body that does not decode with its Content-Encoding is the decompressor's error (zlib's `errno`) given a
 * 400 without a `type`.
 */
export function fromBodyParser(error: unknown): AppException | undefined {
  if (typeof error !== 'object' || error === null || !('status' in error)) {
    return undefined;
  }
  const { status } = error;
  const type = 'type' in error ? error.type : undefined;
  if (typeof status !== 'number' || status < 400 || status >= 500) {
    return undefined;
  }
  switch (type) {
    case 'entity.parse.failed':
      return invalidBody('The request body is not valid JSON', 'must be valid JSON');
    case 'encoding.unsupported':
      return invalidBody(
        'The request body could not be decoded',
        'Content-Encoding must be gzip, deflate, br or identity',
      );
    case undefined:
      return 'errno' in error
        ? invalidBody('The request body could not be decoded', 'must be valid data of its Content-Encoding')
        : undefined;
    default:
      return fromHttpStatus(status);
  }
}

function invalidBody(message: string, detail: string): AppException {
  return new AppException(ErrorCode.VALIDATION_FAILED, message, [{ field: 'body', message: detail }]);
}
