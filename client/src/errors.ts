import type { ErrorBody, ErrorCode } from './protocol';

/** The contract's codes, and the SDK's own for what never reached the server. */
export type ChatErrorCode = ErrorCode | 'TIMEOUT' | 'DISCONNECTED';

/** An error as a value: the contract's `code` (PROTOCOL.md §2), its message for people, and its hints. */
export class ChatError extends Error {
  override readonly name = 'ChatError';
  readonly code: ChatErrorCode;
  readonly retryAfterMs?: number;
  readonly requestId?: string;
  readonly details?: { field: string; message: string }[];

  constructor(code: ChatErrorCode, message: string, extra: Omit<ErrorBody, 'code' | 'message'> = {}) {
    super(message);
    this.code = code;
    this.retryAfterMs = extra.retryAfterMs;
    this.requestId = extra.requestId;
    this.details = extra.details;
  }

  static from(body: ErrorBody): ChatError {
    const { code, message, ...extra } = body;
    return new ChatError(code, message, extra);
  }

  /** Worth retrying as it is (same clientId): the server was busy or unreachable, not the request wrong. */
  get transient(): boolean {
    return (
      this.code === 'RATE_LIMITED' ||
      this.code === 'UNAVAILABLE' ||
      this.code === 'INTERNAL' ||
      this.code === 'TIMEOUT' ||
      this.code === 'DISCONNECTED' ||
      this.code === 'UNAUTHENTICATED'
    );
  }
}
