import { beforeDeadline } from '../../../common/async/before-deadline';

/**
 * A call the database did not answer within its time. Its code is query_canceled's (57014), what a server's own
 * statement_timeout reports, so both read the same to a caller.
 */
export class CallTimeoutError extends Error {
  readonly code = '57014';

  constructor(timeoutMs: number) {
    super(`the database did not answer within ${timeoutMs} ms`);
  }
}

/** `work`, or a CallTimeoutError at `deadline` (a `performance.now()` time). */
export function within<T>(work: Promise<T>, deadline: number, timeoutMs: number): Promise<T> {
  return beforeDeadline(work, deadline - performance.now(), () => {
    throw new CallTimeoutError(timeoutMs);
  });
}
