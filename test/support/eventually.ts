/**
 * Resolves once `check` holds (true, or a value other than undefined/false), polling every 20 ms; fails after
 * `ms` naming `what`. For states reached without an event to await (a row stored, a counter in Redis).
 */
export async function eventually<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  what: string,
  ms = 10_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) {
      return value;
    }
    if (Date.now() > deadline) {
      throw new Error(`${what}: not within ${ms} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
