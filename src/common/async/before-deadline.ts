/**
 * Waits for `work` at most `ms` (none when `ms` <= 0): its outcome when it settles in time, else `onLate()`'s —
 * what it returns, or what it throws. The timer is cleared either way, and `work` settling after the deadline is
 * ignored (its rejection is not left unhandled). The one way this codebase bounds a wait.
 *
 * `ms` is rounded up to whole milliseconds (never early). Node keeps a list of timers per duration, in a priority
 * queue: a fractional duration (a deadline less `performance.now()`) matched no other wait's, so every wait made and
 * dropped a list of its own; in whole milliseconds, waits of one length at once (database calls in flight) share one.
 */
export async function beforeDeadline<T, L = never>(work: Promise<T>, ms: number, onLate: () => L): Promise<T | L> {
  work.catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<L>((resolve) => {
    // A promise's executor turns what onLate throws into that promise's rejection.
    timer = setTimeout(() => resolve(new Promise<L>((settle) => settle(onLate()))), Math.max(0, Math.ceil(ms)));
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}
