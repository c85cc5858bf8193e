import type { RealtimeBroadcaster } from './realtime-broadcaster';
import type { ServerToClientEvents } from './server-events';

/**
 * The server's emits are typed by the SDK's event maps (client/src/protocol.d.ts). `npm run typecheck` compiles
 * this file: each `@ts-expect-error` below fails the check as soon as the wrong payload is accepted, that is when
 * the server stops using the SDK's types.
 */
function wrongPayloads(broadcaster: RealtimeBroadcaster, emit: ServerToClientEvents): void {
  // @ts-expect-error: a delta's offset is a number in the SDK's RoomEvents
  broadcaster.toRoom('room', 'message:delta', { roomId: 'room', messageId: 'm', offset: '0', delta: 'x' });
  // @ts-expect-error: read:updated carries seq, not lastReadSeq (the SDK's UserEvents)
  broadcaster.toUser('profile', 'read:updated', { roomId: 'room', lastReadSeq: 1 });
  // @ts-expect-error: presence has no `typing` field (the SDK's RoomEvents)
  emit.presence({ roomId: 'room', profileId: 'p', typing: true });
}

function rightPayloads(broadcaster: RealtimeBroadcaster): void {
  broadcaster.toRoom('room', 'message:delta', { roomId: 'room', messageId: 'm', offset: 0, delta: 'x' });
  broadcaster.toUser('profile', 'read:updated', { roomId: 'room', seq: 1 });
}

describe('ServerToClientEvents', () => {
  it('should type the server call sites with the SDK event maps (checked by npm run typecheck)', () => {
    const calls: [string, unknown][] = [];
    const broadcaster = {
      toRoom: (_roomId: string, event: string, payload: unknown) => calls.push([event, payload]),
      toUser: (_profileId: string, event: string, payload: unknown) => calls.push([event, payload]),
    } as unknown as RealtimeBroadcaster;

    rightPayloads(broadcaster);

    expect(calls.map(([event]) => event)).toEqual(['message:delta', 'read:updated']);
    expect(typeof wrongPayloads).toBe('function');
  });
});
