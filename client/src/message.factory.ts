import type { Message } from './protocol';

let ids = 0;

/** A stored user message of room `room` for the unit specs, with a fresh id; `overrides` set the rest. */
export function makeMessage(seq: number, overrides: Partial<Message> = {}): Message {
  ids++;
  return {
    id: `m${ids}-${seq}`,
    roomId: 'room',
    seq,
    role: 'user',
    senderId: 'alice',
    content: `message ${seq}`,
    status: 'complete',
    clientId: null,
    replyToId: null,
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
    ...overrides,
  };
}
