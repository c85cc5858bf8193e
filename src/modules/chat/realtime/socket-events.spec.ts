import { EventEmitter, once } from 'node:events';
import type { Socket } from 'socket.io';
import { bindEvents, type EventRun, type EventWork } from './socket-events';

/** A socket as bindEvents sees it: the events a client sent arrive as `emit(event, ...args)`. */
function makeSocket(): Socket & EventEmitter {
  return new EventEmitter() as unknown as Socket & EventEmitter;
}

/** Runs the work as SocketEventRunner does, minus its logging and metrics: its answer, `ok` and the event's name. */
const run: EventRun = async (event, work) => ({ ok: true, event, ...(await work()) });

/** Binds one event whose work records its payload and answers with it. */
function bindEcho(socket: Socket & EventEmitter) {
  const payloads: unknown[] = [];
  const work: EventWork<Socket> = (_socket, payload) => {
    payloads.push(payload);
    return Promise.resolve({ payload });
  };
  bindEvents(socket, { 'message:send': work }, run);
  return { payloads };
}

function ackOnce(): { ack: (answer: unknown) => void; answered: Promise<unknown> } {
  const answers = new EventEmitter();
  return { ack: (answer) => answers.emit('answer', answer), answered: once(answers, 'answer').then(([a]) => a) };
}

describe(bindEvents.name, () => {
  it("should run the event's work on its payload under its name, and give the answer to the ack", async () => {
    const socket = makeSocket();
    const { payloads } = bindEcho(socket);
    const { ack, answered } = ackOnce();

    socket.emit('message:send', { roomId: 'r', content: 'hi' }, ack);

    await expect(answered).resolves.toEqual({
      ok: true,
      event: 'message:send',
      payload: { roomId: 'r', content: 'hi' },
    });
    expect(payloads).toEqual([{ roomId: 'r', content: 'hi' }]);
  });

  it('should handle an event sent without an ack', async () => {
    const socket = makeSocket();
    const handled = new EventEmitter();
    bindEvents(
      socket,
      { 'typing:update': (_s, payload) => (handled.emit('payload', payload), Promise.resolve({})) },
      run,
    );

    const payload = once(handled, 'payload');
    socket.emit('typing:update', { roomId: 'r', isTyping: true });

    await expect(payload).resolves.toEqual([{ roomId: 'r', isTyping: true }]);
  });

  it('should read the arguments as Nest did: none, an ack alone, several before the ack, an array payload', async () => {
    const socket = makeSocket();
    const { payloads } = bindEcho(socket);
    const cases: unknown[][] = [[], [1, 2], [[1, 2]]];
    const answers: Promise<unknown>[] = [];
    for (const args of cases) {
      const { ack, answered } = ackOnce();
      answers.push(answered);
      socket.emit('message:send', ...args, ack);
    }

    await Promise.all(answers);

    expect(payloads).toEqual([undefined, [1, 2], [1, 2]]);
  });

  it('should answer nothing, and not reject, when the run itself rejects', async () => {
    const socket = makeSocket();
    const tried = new EventEmitter();
    const failing: EventRun = () => {
      tried.emit('tried');
      return Promise.reject(new Error('boom'));
    };
    bindEvents(socket, { 'ai:stop': () => Promise.resolve({}) }, failing);
    const acked = jest.fn();
    const unhandled = jest.fn();
    process.on('unhandledRejection', unhandled);

    try {
      const attempt = once(tried, 'tried');
      socket.emit('ai:stop', {}, acked);
      await attempt;
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('unhandledRejection', unhandled);
    }

    expect(acked).not.toHaveBeenCalled();
    expect(unhandled).not.toHaveBeenCalled();
  });

  it('should bind only the events it is given', () => {
    const socket = makeSocket();
    bindEcho(socket);

    expect(socket.eventNames()).toEqual(['message:send']);
  });
});
