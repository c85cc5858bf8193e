/**
 * Helpers for the delivery suite (test/realtime/delivery.e2e-spec.ts): rooms without AI (so every seq is a
 * message the test sent), sockets joined to a room, and waits on events with explicit caps.
 */
import type { Socket } from 'socket.io-client';
import { addMembers } from './chat-api';
import type { TestUser } from './http-client';
import { untilSocket } from './socket-client';

export { postMessage, storedMessages } from './chat-api';
export { joinRoom, SocketPool } from './socket-client';

/** A private room with AI off, owned by `owner`, with each of `members` added by the owner. */
export async function createRoom(owner: TestUser, members: TestUser[] = []): Promise<any> {
  const res = await owner.http.post('/api/rooms', { name: 'delivery', ai: { mode: 'off' } });
  if (res.status !== 201) {
    throw new Error(`create room failed: ${res.status} ${JSON.stringify(res.body)}`);
  }
  await addMembers(owner, res.body.id, ...members);
  return res.body;
}

export interface LoggedEvent {
  event: string;
  payload: any;
}

/** Every event the socket receives from now on, in arrival order. */
export function eventLog(socket: Socket): LoggedEvent[] {
  const log: LoggedEvent[] = [];
  socket.onAny((event: string, payload: unknown) => log.push({ event, payload }));
  return log;
}

/**
 * Resolves once `received` (an array that `collect` fills from `event`) holds `count` items; rejects after
 * `capMs` saying how many arrived. Register `collect` before calling this.
 */
export function untilCount(
  socket: Socket,
  event: string,
  received: unknown[],
  count: number,
  capMs: number,
): Promise<void> {
  return untilSocket(
    socket,
    () => received.length >= count,
    () => `only ${received.length} of ${count} ${event} within ${capMs} ms`,
    capMs,
    event,
  );
}

/** Like `nextEvent`, with an explicit cap. */
export function nextEventWithin<T = any>(
  socket: Socket,
  event: string,
  match: (payload: T) => boolean,
  capMs: number,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.off(event, listener);
      reject(new Error(`no matching ${event} within ${capMs} ms`));
    }, capMs);
    const listener = (payload: T) => {
      if (match(payload)) {
        clearTimeout(timer);
        socket.off(event, listener);
        resolve(payload);
      }
    };
    socket.on(event, listener);
  });
}

/** Matches a `typing` payload of one member in one room. */
export const typingOf =
  (roomId: string, profileId: string, isTyping: boolean) =>
  (payload: any): boolean =>
    payload?.roomId === roomId && payload?.profileId === profileId && payload?.isTyping === isTyping;

/** Matches a `presence` payload of one member in one room. */
export const presenceOf =
  (roomId: string, profileId: string) =>
  (payload: any): boolean =>
    payload?.roomId === roomId && payload?.profileId === profileId;

export const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** The room id an event of PROTOCOL.md §4 concerns (`message:*` carry it in the message). */
export function roomOf(entry: LoggedEvent): string | undefined {
  return entry.payload?.roomId ?? entry.payload?.message?.roomId ?? entry.payload?.room?.id;
}
