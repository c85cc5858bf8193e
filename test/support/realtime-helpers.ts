/**
 * Helpers for the Socket.IO suites (test/realtime/handshake.e2e-spec.ts, test/realtime/events.e2e-spec.ts):
 * tokens signed the way an attacker or a client could, sockets that are closed after each test, acks
 * counted at the packet level, and shape checks of PROTOCOL.md §2 and §4.
 */
import { SignJWT, type JWTPayload } from 'jose';
import { io, type Socket } from 'socket.io-client';
import type { TestUser } from './http-client';
import { settle, untilSocket } from './socket-client';

export { SocketPool } from './socket-client';
import { postMessage } from './chat-api';

import { ISO_UTC, UUID } from './chat-api';

export { ISO_UTC, UUID };

/** A UUID that names no room. */
export const UNKNOWN_ROOM_ID = '5b0c6c1e-2f7d-4e59-a3c8-0d9e1f2a3b4c';

/** roomId values that are not UUIDs and must never reach SQL, a path or a page. */
export const HOSTILE_ROOM_IDS = [
  "'; drop table rooms; --",
  "1' OR '1'='1",
  '../../etc/passwd',
  '<script>alert(1)</script>',
  '%_%',
  'ÿ🙂\u0000',
  '5b0c6c1e-2f7d-4e59-a3c8-0d9e1f2a3b4cX',
];

/** The issuer and audience of the server's own local-mode tokens. */
const LOCAL_ISSUER = 'chat-backend';
const LOCAL_AUDIENCE = 'authenticated';

/** An HS256 token with the server's claims for `sub`, expiring at `exp` (seconds since the epoch). */
export function signLocalToken(secret: string, sub: string, exp: number): Promise<string> {
  return new SignJWT({ role: 'authenticated' })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(sub)
    .setIssuer(LOCAL_ISSUER)
    .setAudience(LOCAL_AUDIENCE)
    .setIssuedAt(Math.min(Math.floor(Date.now() / 1000), exp - 1))
    .setExpirationTime(exp)
    .sign(new TextEncoder().encode(secret));
}

/** An unsigned `alg: none` token carrying otherwise valid claims for `sub`. */
export function unsignedToken(sub: string): string {
  const now = Math.floor(Date.now() / 1000);
  const segment = (value: JWTPayload | Record<string, unknown>) =>
    Buffer.from(JSON.stringify(value)).toString('base64url');
  const claims = { sub, role: 'authenticated', iss: LOCAL_ISSUER, aud: LOCAL_AUDIENCE, iat: now, exp: now + 3600 };
  return `${segment({ alg: 'none', typ: 'JWT' })}.${segment(claims)}.`;
}

/**
 * The token with one character of its signature changed. A middle character is chosen on purpose: the
 * last character of a base64url HS256 signature carries padding bits, so changing it may change nothing.
 */
export function tamperedToken(token: string): string {
  const [header, payload, signature] = token.split('.');
  const at = Math.floor(signature.length / 2);
  const changed = signature[at] === 'A' ? 'B' : 'A';
  return `${header}.${payload}.${signature.slice(0, at)}${changed}${signature.slice(at + 1)}`;
}

/** The `connect_error` of a handshake made with the given client options (e.g. no `auth` at all). */
export async function refusedWith(baseUrl: string, options: { auth?: object }): Promise<Error & { data?: unknown }> {
  const socket = io(`${baseUrl}/chat`, { ...options, transports: ['websocket'], reconnection: false, forceNew: true });
  try {
    return await new Promise((resolve, reject) => {
      socket.once('connect', () => reject(new Error('the connection was accepted')));
      socket.once('connect_error', (error) => resolve(error as Error & { data?: unknown }));
    });
  } finally {
    socket.close();
  }
}

/** Asserts the refusal of PROTOCOL.md §4: `UNAUTHENTICATED`, with `data { code, message }` and no token in it. */
export function expectUnauthenticated(error: Error & { data?: unknown }, token?: string): void {
  expect(error.message).toBe('UNAUTHENTICATED');
  expect(error.data).toEqual({ code: 'UNAUTHENTICATED', message: expect.any(String) });
  expect((error.data as { message: string }).message.length).toBeGreaterThan(0);
  if (token) {
    expect(JSON.stringify(error.data)).not.toContain(token);
  }
}

/** The namespace of every socket these suites open (each with its own Manager: forceNew). */
const CHAT_NAMESPACE = '/chat';

/** Socket.IO packet types that carry an ack (socket.io-parser: ACK = 3, BINARY_ACK = 6). */
const ACK_PACKET_TYPES = new Set([3, 6]);

/**
 * Emits `event` with `args` and a callback, resolves with the ack, and proves it was the only one: every
 * ACK packet the socket receives until a following round trip (`settle`) is counted, so a second ack for
 * the same event (which socket.io-client would silently drop) fails the test.
 */
export async function ackOnce<T = any>(socket: Socket, event: string, ...args: unknown[]): Promise<T> {
  const ackPackets: number[] = [];
  const onPacket = (packet: { type: number; nsp: string; id?: number }) => {
    if (ACK_PACKET_TYPES.has(packet.type) && packet.nsp === CHAT_NAMESPACE) {
      ackPackets.push(packet.id ?? -1);
    }
  };
  socket.io.on('packet', onPacket);
  try {
    const calls: unknown[][] = [];
    const response = await new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ack for ${event} within 10 s`)), 10_000);
      socket.emit(event, ...args, (...received: unknown[]) => {
        calls.push(received);
        clearTimeout(timer);
        resolve(received[0] as T);
      });
    });
    await settle(socket);
    expect(calls).toHaveLength(1);
    expect(calls[0]).toHaveLength(1);
    // One ACK for the event, one for settle's round trip, with different ids.
    expect(ackPackets).toHaveLength(2);
    expect(new Set(ackPackets).size).toBe(2);
    return response;
  } finally {
    socket.io.off('packet', onPacket);
  }
}

/** Asserts `{ ok: false, error: { code, message, requestId } }` (and `details` for VALIDATION_FAILED) exactly. */
export function expectErrorAck(ack: any, code: string, field?: string): void {
  expect(Object.keys(ack ?? {}).sort()).toEqual(['error', 'ok']);
  expect(ack.ok).toBe(false);
  const { error } = ack;
  const keys =
    code === 'VALIDATION_FAILED' ? ['code', 'details', 'message', 'requestId'] : ['code', 'message', 'requestId'];
  expect({ code: error.code, keys: Object.keys(error).sort() }).toEqual({ code, keys });
  expect(typeof error.message).toBe('string');
  expect(error.message.length).toBeGreaterThan(0);
  expect(error.requestId).toMatch(/^[A-Za-z0-9._:-]{1,128}$/);
  if (code === 'VALIDATION_FAILED') {
    expect(Array.isArray(error.details)).toBe(true);
    expect(error.details.length).toBeGreaterThan(0);
    for (const detail of error.details) {
      expect(detail).toEqual({ field: expect.any(String), message: expect.any(String) });
    }
    if (field) {
      expect(error.details.map((d: any) => d.field)).toContain(field);
    }
  }
}

/** The error ack without its request id, to compare two refusals that must not be told apart. */
export function withoutRequestId(ack: any): unknown {
  const { requestId: _requestId, ...error } = ack.error;
  return { ...ack, error };
}

/** Resolves with the reason of the socket's next `disconnect` (rejects after 10 s). */
export function nextDisconnect(socket: Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no disconnect within 10 s')), 10_000);
    socket.once('disconnect', (reason) => {
      clearTimeout(timer);
      resolve(reason);
    });
  });
}

/** Every event the socket receives from now on, as `[event, payload]`, whatever its name. */
export function collectAll(socket: Socket): [string, any][] {
  const received: [string, any][] = [];
  socket.onAny((event: string, payload: unknown) => received.push([event, payload]));
  return received;
}

/**
 * Resolves once `done(received)` holds, checked now and at each event the socket receives (rejects after 10 s with
 * what did arrive). `received` is the socket's `collectAll` log. `settle` proves only what the socket's own instance
 * emitted: with several instances, an event another instance emitted comes through Redis and may arrive after it,
 * so wait for the events that must arrive before settling for the ones that must not.
 */
export function untilReceived(
  socket: Socket,
  received: [string, any][],
  done: (received: [string, any][]) => boolean,
  what: string,
): Promise<void> {
  return untilSocket(
    socket,
    () => done(received),
    () => `${what}: not within 10 s; received ${JSON.stringify(received.map(([event]) => event))}`,
  );
}

/** The events of `received` that concern `roomId` (by `roomId`, `room.id` or `message.roomId`). */
export function eventsOfRoom(received: [string, any][], roomId: string): [string, any][] {
  return received.filter(
    ([, payload]) => payload?.roomId === roomId || payload?.room?.id === roomId || payload?.message?.roomId === roomId,
  );
}

/** A private or public room with AI off, so every message in it is one the test sent. */
export async function createRoom(owner: TestUser, visibility: 'private' | 'public' = 'private'): Promise<any> {
  const res = await owner.http.post('/api/rooms', { name: `realtime ${visibility}`, visibility, ai: { mode: 'off' } });
  if (res.status !== 201) {
    throw new Error(`create room failed: ${res.status} ${JSON.stringify(res.body)}`);
  }
  return res.body;
}

export { addMembers, expectUserMessage, postMessage, storedMessages } from './chat-api';

/** `count` messages sent over REST one after another (seq 1..count in a fresh room). */
export async function postMany(user: TestUser, roomId: string, count: number, prefix = 'm'): Promise<any[]> {
  const sent: any[] = [];
  for (let i = 1; i <= count; i += 1) {
    sent.push(await postMessage(user, roomId, `${prefix}-${i}`));
  }
  return sent;
}

export const seqs = (messages: any[]): number[] => messages.map((m) => m.seq);

export const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);
