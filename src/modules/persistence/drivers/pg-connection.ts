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
export async function within<T>(work: Promise<T>, deadline: number, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new CallTimeoutError(timeoutMs)), Math.max(0, deadline - performance.now()));
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}
