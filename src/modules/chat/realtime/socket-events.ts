import { Logger } from '@nestjs/common';
import type { Socket } from 'socket.io';

/** A client event's work on its payload: what it resolves with goes into the ack (`{ ok: true, ...result }`). */
export type EventWork<S extends Socket> = (socket: S, payload: unknown) => Promise<object>;

/** Runs an event's work and gives its ack, never rejecting (SocketEventRunner.run). */
export type EventRun = (event: string, work: () => Promise<object>) => Promise<object>;

const logger = new Logger('SocketEvents');

/**
 * Binds each client event to its work as a plain listener of the socket, run through `run` (which answers every event,
 * failures included). The arguments are read as Nest's IoAdapter reads them: the ack is the last one when it is a
 * function; one argument before it is the payload, several arrive as an array (which no event's payload is). The answer
 * goes to the ack; an event sent without one is handled all the same. Should `run` reject after all, it is logged.
 *
 * Nest's own binding (`@SubscribeMessage`) ran every event through its execution context as well: the global guards
 * (HTTP authentication and the HTTP throttler, both of which pass a socket event through), the global validation pipe
 * on each parameter (which leaves an `unknown` payload as it is) and the interceptor chain — promises and objects per
 * event, ~3 % of a send's main-thread CPU, for nothing an event uses: a socket is authenticated at its handshake, and
 * each event validates its payload and counts its rate itself.
 */
export function bindEvents<S extends Socket>(
  socket: S,
  events: Readonly<Record<string, EventWork<S>>>,
  run: EventRun,
): void {
  for (const [event, work] of Object.entries(events)) {
    socket.on(event, (...args: unknown[]) => {
      const ack = typeof args[args.length - 1] === 'function' ? (args.pop() as (answer: object) => void) : undefined;
      const payload = args.length <= 1 ? args[0] : args;
      run(event, () => work(socket, payload)).then(
        (answer) => ack?.(answer),
        (error: unknown) => logger.error({ err: error, event }, 'socket event handler failed'),
      );
    });
  }
}
