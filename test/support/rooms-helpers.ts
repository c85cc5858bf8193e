/**
 * Helpers for the rooms and members suites (test/rooms.e2e-spec.ts, test/members.e2e-spec.ts):
 * creating rooms and reading them back the way any client would, and shape checks of PROTOCOL.md §3.
 */
import { randomBytes } from 'node:crypto';
import { expectProblem, type HttpResult, type TestUser } from './http-client';

import { ISO_UTC, UUID } from './chat-api';

export { ISO_UTC, UUID };

/** A random UUID that names nothing. */
export const UNKNOWN_ID = '3f1c2b9e-8d4a-4c6e-9b1a-7e5d0c2f4a81';

/** Path ids that are not UUIDs (each is URL-encoded by the caller). */
export const NON_UUID_IDS = ['not-a-uuid', '123', "1' OR '1'='1", '<script>', '3f1c2b9e8d4a4c6e9b1a7e5d0c2f4a81x'];

/** A short unique tag to keep a test's rooms apart from every other test's in the same app. */
export function uniqueTag(prefix = 't'): string {
  return `${prefix}${randomBytes(5).toString('hex')}`;
}

/**
 * Creates a room. Without an `ai` field it is created with AI off: these suites count messages and
 * seqs, and an AI reply (a `failed` one, without a provider) would take a seq of its own.
 */
export async function createRoom(user: TestUser, body: Record<string, unknown>): Promise<any> {
  const res = await user.http.post('/api/rooms', 'ai' in body ? body : { ...body, ai: { mode: 'off' } });
  if (res.status !== 201) {
    throw new Error(`create room failed: ${res.status} ${JSON.stringify(res.body)}`);
  }
  return res.body;
}

/** Joins a public room (`POST /api/rooms/:id/join`), failing loudly if the server refuses. */
export async function joinRoom(user: TestUser, roomId: string): Promise<any> {
  const res = await user.http.post(`/api/rooms/${roomId}/join`);
  if (res.status !== 200) {
    throw new Error(`join failed: ${res.status} ${JSON.stringify(res.body)}`);
  }
  return res.body;
}

/** The owner adds `member` by username (`POST /api/rooms/:id/members`), failing loudly if the server refuses. */
export async function addToRoom(owner: TestUser, roomId: string, member: TestUser): Promise<any> {
  const res = await owner.http.post(`/api/rooms/${roomId}/members`, { username: member.username });
  if (res.status !== 201) {
    throw new Error(`add member failed: ${res.status} ${JSON.stringify(res.body)}`);
  }
  return res.body;
}

export async function getRoom(user: TestUser, roomId: string): Promise<any> {
  const res = await user.http.get(`/api/rooms/${roomId}`);
  expect(res.status).toBe(200);
  return res.body;
}

/** The caller's rooms (`GET /api/rooms`), asserting the call worked. */
export async function myRooms(user: TestUser): Promise<any[]> {
  const res = await user.http.get('/api/rooms');
  expect(res.status).toBe(200);
  expect(Array.isArray(res.body.rooms)).toBe(true);
  return res.body.rooms;
}

export async function myRoomIds(user: TestUser): Promise<string[]> {
  return (await myRooms(user)).map((room) => room.id);
}

export async function members(user: TestUser, roomId: string): Promise<any[]> {
  const res = await user.http.get(`/api/rooms/${roomId}/members`);
  expect(res.status).toBe(200);
  expect(Array.isArray(res.body.members)).toBe(true);
  return res.body.members;
}

/** `{ profileId: role }` of a room's members, as `user` (a member) sees them. */
export async function memberRoles(user: TestUser, roomId: string): Promise<Record<string, string>> {
  const list = await members(user, roomId);
  return Object.fromEntries(list.map((m) => [m.profile.id, m.role]));
}

export async function sendMessage(user: TestUser, roomId: string, content: string): Promise<any> {
  const res = await user.http.post(`/api/rooms/${roomId}/messages`, { content });
  if (res.status !== 201) {
    throw new Error(`send failed: ${res.status} ${JSON.stringify(res.body)}`);
  }
  return res.body.message;
}

export async function messageContents(user: TestUser, roomId: string): Promise<string[]> {
  const res = await user.http.get(`/api/rooms/${roomId}/messages`);
  expect(res.status).toBe(200);
  return res.body.messages.map((m: any) => m.content);
}

export function expectIso(value: unknown): void {
  expect(value).toEqual(expect.stringMatching(ISO_UTC));
  expect(new Date(value as string).toISOString()).toBe(value);
}

/** Asserts the Room object of PROTOCOL.md §3 (exactly its fields, with their types). */
export function expectRoomShape(room: any): void {
  expect(Object.keys(room).sort()).toEqual(
    [
      'ai',
      'createdAt',
      'id',
      'lastMessage',
      'lastReadSeq',
      'lastRev',
      'lastSeq',
      'muted',
      'myRole',
      'name',
      'ownerId',
      'readReceipts',
      'unread',
      'updatedAt',
      'visibility',
    ].sort(),
  );
  expect(room.id).toMatch(UUID);
  expect(typeof room.name).toBe('string');
  expect(['private', 'public']).toContain(room.visibility);
  expect(room.ownerId).toMatch(UUID);
  expect(Object.keys(room.ai).sort()).toEqual(['available', 'mode', 'model', 'systemPrompt']);
  expect(['off', 'mention', 'always']).toContain(room.ai.mode);
  expect(room.ai.systemPrompt === null || typeof room.ai.systemPrompt === 'string').toBe(true);
  expect(typeof room.ai.model).toBe('string');
  expect(room.ai.model.length).toBeGreaterThan(0);
  expect(room.ai.available).toBe(false); // no AI key in tests
  expect(Number.isInteger(room.lastSeq) && room.lastSeq >= 0).toBe(true);
  expectIso(room.createdAt);
  expectIso(room.updatedAt);
  expect([null, 'owner', 'member']).toContain(room.myRole);
  expect(typeof room.readReceipts).toBe('boolean');
  // The caller's own state: numbers and a boolean for a member, null for a stranger (and in room:updated).
  // The room's change number: at least one change per message for a member, null for a stranger.
  expect(room.lastRev === null || (Number.isInteger(room.lastRev) && room.lastRev >= room.lastSeq)).toBe(true);
  if (room.myRole !== null) {
    expect(room.lastRev).not.toBeNull();
  }
  if (room.lastReadSeq === null) {
    expect([room.unread, room.muted]).toEqual([null, null]);
  } else {
    expect(Number.isInteger(room.lastReadSeq) && room.lastReadSeq >= 0 && room.lastReadSeq <= room.lastSeq).toBe(true);
    expect(Number.isInteger(room.unread) && room.unread >= 0 && room.unread <= 100).toBe(true);
    expect(typeof room.muted).toBe('boolean');
  }
  if (room.lastMessage === null) {
    expect(room.myRole === null || room.lastSeq === 0).toBe(true);
  } else {
    expect(Object.keys(room.lastMessage).sort()).toEqual(['createdAt', 'preview', 'role', 'senderId', 'seq']);
    expect(room.lastMessage.seq).toBe(room.lastSeq);
    expect(['user', 'assistant', 'system']).toContain(room.lastMessage.role);
    expect(room.lastMessage.senderId === null || UUID.test(room.lastMessage.senderId)).toBe(true);
    expect(typeof room.lastMessage.preview).toBe('string');
    expect(Array.from(room.lastMessage.preview as string).length).toBeLessThanOrEqual(140);
    expectIso(room.lastMessage.createdAt);
  }
}

/** Asserts the Profile object of PROTOCOL.md §3. */
export function expectProfileShape(profile: any): void {
  expect(Object.keys(profile).sort()).toEqual(['avatarUrl', 'createdAt', 'displayName', 'id', 'username']);
  expect(profile.id).toMatch(UUID);
  expect(profile.username).toMatch(/^[a-z0-9_]{3,32}$/);
  expect(typeof profile.displayName).toBe('string');
  expect(profile.avatarUrl === null || typeof profile.avatarUrl === 'string').toBe(true);
  expectIso(profile.createdAt);
}

/** A `{ profile, role, joinedAt }` member entry. */
export function expectMemberShape(member: any): void {
  expect(Object.keys(member).sort()).toEqual(['joinedAt', 'profile', 'role']);
  expectProfileShape(member.profile);
  expect(['owner', 'member']).toContain(member.role);
  expectIso(member.joinedAt);
}

/** A 400 VALIDATION_FAILED whose details name `field` (the dotted path), each detail with a message. */
export function expectValidation(res: HttpResult, field: string): any {
  const body = expectProblem(res, 400, 'VALIDATION_FAILED');
  expect(body).toEqual(expect.objectContaining({ details: expect.any(Array) }));
  for (const detail of body.details) {
    expect(detail).toEqual({ field: expect.any(String), message: expect.any(String) });
    expect(detail.message.length).toBeGreaterThan(0);
  }
  expect(body.details.map((d: any) => d.field)).toContain(field);
  return body;
}

/** The part of a problem body that must not differ between "does not exist" and "not visible to you". */
export function problemWithoutRequestId(body: any): Record<string, unknown> {
  const { requestId: _requestId, ...rest } = body;
  return rest;
}

/**
 * Asserts that every response is the same 404 NOT_FOUND (same body apart from the request id), so a
 * caller cannot tell a hidden room from one that does not exist.
 */
export function expectSameNotFound(...responses: HttpResult[]): void {
  const bodies = responses.map((res) => problemWithoutRequestId(expectProblem(res, 404, 'NOT_FOUND')));
  for (const body of bodies.slice(1)) {
    expect(body).toEqual(bodies[0]);
  }
}
