/**
 * A start the operator has to fix: its message is one line that names the variable or resource and what to do, and
 * nothing secret. `main.ts` prints that line alone on stderr and exits 1; anything else that stops a start is a bug
 * and keeps its stack.
 */
export class StartupError extends Error {
  override readonly name: string = 'StartupError';
}

/** The refusal for a port the server cannot listen on, or undefined when the error is of another kind. */
export function listenRefusal(error: unknown, port: number): StartupError | undefined {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'EADDRINUSE') {
    return new StartupError(`PORT ${port} is already in use: stop what holds it or set PORT`);
  }
  if (code === 'EACCES') {
    return new StartupError(`PORT ${port} needs privileges this process lacks: set PORT above 1023`);
  }
  return undefined;
}
