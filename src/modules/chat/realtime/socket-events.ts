import type { Socket } from 'socket.io';

/** A client event's handler: what it resolves with is the event's ack. */
export type EventHandler<S extends Socket> = (socket: S, payload: unknown) => Promise<object>;

/**
 * Binds each client event to its handler as a plain listener of the socket. The arguments are read as Nest's
 * IoAdapter reads them: the ack is the last one when it is a function; one argument before it is the payload, several
 * arrive as an array (which no event's payload is). The handler's answer goes to the ack; an event sent without one
 * is handled all the same. A handler that rejects (SocketEventRunner never lets one) is reported to `failed`.
 *
 * Nest's own binding (`@SubscribeMessage`) ran every event through its execution context as well: the global guards
 * (HTTP authentication and the HTTP throttler, both of which pass a socket event through), the global validation pipe
 * on each parameter (which leaves an `unknown` payload as it is) and the interceptor chain — promises and objects per
 * event, ~3 % of a send's main-thread CPU, for nothing an event uses: a socket is authenticated at its handshake, and
 * each handler validates its payload and counts its rate itself.
 */
export function bindEvents<S extends Socket>(
  socket: S,
  handlers: Readonly<Record<string, EventHandler<S>>>,
  failed: (event: string, error: unknown) => void,
): void {
  for (const [event, handler] of Object.entries(handlers)) {
    socket.on(event, (...args: unknown[]) => {
      const ack = typeof args[args.length - 1] === 'function' ? (args.pop() as (answer: object) => void) : undefined;
      const payload = args.length <= 1 ? args[0] : args;
      handler(socket, payload).then(
        (answer) => ack?.(answer),
        (error: unknown) => failed(event, error),
      );
    });
  }
}
