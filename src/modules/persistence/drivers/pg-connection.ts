/**
 * What a connection checked out of the pg pool needs around a call: a time bound (`within`) and a listener for its
 * loss (`watchForLoss`).
 */
import type { PoolClient } from 'pg';

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

/**
 * Listens for the error a checked-out connection emits when it drops (pg-pool listens only while it is idle; without a
 * listener the error would end the process). `stop()` removes the listener and gives the error, if one came.
 */
export function watchForLoss(client: PoolClient): { stop(): Error | undefined } {
  let lost: Error | undefined;
  const onError = (error: Error) => {
    lost = error;
  };
  client.on('error', onError);
  return {
    stop() {
      client.off('error', onError);
      return lost;
    },
  };
}
