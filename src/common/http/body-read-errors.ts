import type { IncomingMessage, ServerResponse } from 'node:http';
import { AppException } from '../errors/app.exception';
import { ErrorCode } from '../errors/error-code';

const DECODED = new Set(['gzip', 'deflate', 'br']);

/**
 * Express error middleware for right after the body parser: a body it could not decode (its Content-Encoding
 * names gzip, deflate or br but the bytes are not that) reaches here as the decompressor's own error, a 400 without
 * body-parser's `type`, which would otherwise be answered as a bug (500). It becomes VALIDATION_FAILED on `body`,
 * and an encoding the parser does not take, VALIDATION_FAILED with the ones it does. Anything else passes on as
 * it is.
 */
export function bodyReadErrors(
  error: unknown,
  req: IncomingMessage,
  _res: ServerResponse,
  next: (error: unknown) => void,
): void {
  next(undecodableBody(error, req) ?? error);
}

function undecodableBody(error: unknown, req: IncomingMessage): AppException | undefined {
  if (typeof error !== 'object' || error === null || !('status' in error)) {
    return undefined;
  }
  const type = 'type' in error ? error.type : undefined;
  if (type === 'encoding.unsupported') {
    return invalidBody('Content-Encoding must be gzip, deflate, br or identity');
  }
  const encoding = String(req.headers['content-encoding'] ?? '').toLowerCase();
  if (type === undefined && error.status === 400 && DECODED.has(encoding)) {
    return invalidBody(`must be valid ${encoding} data, as its Content-Encoding says`);
  }
  return undefined;
}

function invalidBody(message: string): AppException {
  return new AppException(ErrorCode.VALIDATION_FAILED, 'The request body could not be decoded', [
    { field: 'body', message },
  ]);
}
