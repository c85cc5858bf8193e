import { type ErrorCode } from '../../common/errors/error-code';

/** A refused Socket.IO handshake: the client's `connect_error` carries `data: { code, message, retryAfterMs? }`. */
export function socketRefusal(
  code: ErrorCode,
  message: string,
  retryAfterMs?: number,
): Error & { data: { code: ErrorCode; message: string; retryAfterMs?: number } } {
  const refusal = new Error(code) as Error & { data: { code: ErrorCode; message: string; retryAfterMs?: number } };
  refusal.data = { code, message, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
  return refusal;
}
