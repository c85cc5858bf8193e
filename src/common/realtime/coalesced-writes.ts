import type { Socket } from 'node:net';

/**
 * Coalesces what one connection writes in one run of callbacks into one system call: the first write corks the
 * socket and a process.nextTick uncorks it — after the promise callbacks queued with it have run, when the write
 * came from one (as acks and broadcasts do). Order is kept (corking only holds writes back, in order); a send's
 * ack and its own `message:new`, or a reply's delta and another event to the same socket, then leave together.
 */
export function coalesceWrites(socket: Socket): void {
  const write = socket.write.bind(socket);
  let corked = false;
  const uncork = () => {
    corked = false;
    socket.uncork();
  };
  socket.write = ((...args: Parameters<Socket['write']>): boolean => {
    if (!corked) {
      corked = true;
      socket.cork();
      process.nextTick(uncork);
    }
    return write(...args);
  }) as Socket['write'];
}
