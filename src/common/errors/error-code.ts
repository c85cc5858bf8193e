/** The one vocabulary of error codes on the wire (PROTOCOL.md §2). */
export enum ErrorCode {
  VALIDATION_FAILED = 'VALIDATION_FAILED',
  UNAUTHENTICATED = 'UNAUTHENTICATED',
  FORBIDDEN = 'FORBIDDEN',
  NOT_FOUND = 'NOT_FOUND',
  CONFLICT = 'CONFLICT',
  PAYLOAD_TOO_LARGE = 'PAYLOAD_TOO_LARGE',
  RATE_LIMITED = 'RATE_LIMITED',
  UNAVAILABLE = 'UNAVAILABLE',
  INTERNAL = 'INTERNAL',
}

export interface ErrorDetail {
  field: string;
  message: string;
}

/** HTTP status and problem title of each code; the switch is exhaustive so a new code cannot be forgotten. */
export function describeErrorCode(code: ErrorCode): { status: number; title: string } {
  switch (code) {
    case ErrorCode.VALIDATION_FAILED:
      return { status: 400, title: 'Validation failed' };
    case ErrorCode.UNAUTHENTICATED:
      return { status: 401, title: 'Unauthenticated' };
    case ErrorCode.FORBIDDEN:
      return { status: 403, title: 'Forbidden' };
    case ErrorCode.NOT_FOUND:
      return { status: 404, title: 'Not found' };
    case ErrorCode.CONFLICT:
      return { status: 409, title: 'Conflict' };
    case ErrorCode.PAYLOAD_TOO_LARGE:
      return { status: 413, title: 'Payload too large' };
    case ErrorCode.RATE_LIMITED:
      return { status: 429, title: 'Too many requests' };
    case ErrorCode.UNAVAILABLE:
      return { status: 503, title: 'Service unavailable' };
    case ErrorCode.INTERNAL:
      return { status: 500, title: 'Internal error' };
  }
}
