import { EventEmitter, once } from 'node:events';
import type { Socket } from 'socket.io';
import { bindEvents, type EventHandler } from './socket-events';

/** A socket as bindEvents sees it: the events a client sent arrive as `emit(event, ...args)`. */
function makeSocket(): Socket & EventEmitter {
  return new EventEmitter() as unknown as Socket & EventEmitter;
}

/** Binds one event whose handler records its payload and answers with it; resolves with the answer its ack got. */
function bindEcho(socket: Socket & EventEmitter) {
  const payloads: unknown[] = [];
  const failures: [string, unknown][] = [];
  const handler: EventHandler<Socket> = (_socket, payload) => {
    payloads.push(payload);
    return Promise.resolve({ ok: true, payload });
  };
  bindEvents(socket, { 'message:send': handler }, (event, error) => failures.push([event, error]));
  return { payloads, failures };
}

function ackOnce(): { ack: (answer: unknown) => void; answered: Promise<unknown> } {
  const answers = new EventEmitter();
  return { ack: (answer) => answers.emit('answer', answer), answered: once(answers, 'answer').then(([a]) => a) };
}

describe(bindEvents.name, () => {
  it('should hand the payload to the handler and its answer to the ack', async () => {
    const socket = makeSocket();
    const { payloads } = bindEcho(socket);
    const { ack, answered } = ackOnce();

    socket.emit('message:send', { roomId: 'r', content: 'hi' }, ack);

    await expect(answered).resolves.toEqual({ ok: true, payload: { roomId: 'r', content: 'hi' } });
    expect(payloads).toEqual([{ roomId: 'r', content: 'hi' }]);
  });

  it('should handle an event sent without an ack', async () => {
    const socket = makeSocket();
    const handled = new EventEmitter();
    bindEvents(
      socket,
      { 'typing:update': (_s, payload) => (handled.emit('payload', payload), Promise.resolve({})) },
      () => {
        throw new Error('not expected');
      },
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

  it('should report a handler that rejects to `failed` and answer nothing', async () => {
    const socket = makeSocket();
    const reported = new EventEmitter();
    const error = new Error('boom');
    bindEvents(socket, { 'ai:stop': () => Promise.reject(error) }, (event, e) => reported.emit('failed', event, e));
    const acked = jest.fn();

    const failure = once(reported, 'failed');
    socket.emit('ai:stop', {}, acked);

    await expect(failure).resolves.toEqual(['ai:stop', error]);
    expect(acked).not.toHaveBeenCalled();
  });

  it('should bind only the events it is given', () => {
    const socket = makeSocket();
    bindEcho(socket);

    expect(socket.eventNames()).toEqual(['message:send']);
  });
});
