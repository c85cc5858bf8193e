import { ErrorCode, type ErrorDetail } from './error-code';

/** A domain error: a code from the contract and a message meant for people. */
export class AppException extends Error {
  override readonly name = 'AppException';

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: ErrorDetail[],
    readonly retryAfterMs?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  static validation(details: ErrorDetail[]): AppException {
    const first = details[0];
    const message = first ? `${first.field}: ${first.message}` : 'The input is not valid';
    return new AppException(ErrorCode.VALIDATION_FAILED, message, details);
  }

  static notFound(what = 'Resource'): AppException {
    return new AppException(ErrorCode.NOT_FOUND, `${what} not found`);
  }

  static rateLimited(retryAfterMs: number): AppException {
    return new AppException(ErrorCode.RATE_LIMITED, 'Too many requests, slow down', undefined, retryAfterMs);
  }
}
