/**
 * Calls of the public API that many suites make: add members, send, read a room back. Each fails loudly
 * unless the server does what the caller needs for its setup.
 */
import type { TestUser } from './http-client';

/** PROTOCOL.md's id and timestamp formats. */
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

/** The owner adds each user by username. */
export async function addMembers(owner: TestUser, roomId: string, ...users: TestUser[]): Promise<void> {
  for (const user of users) {
    const res = await owner.http.post(`/api/rooms/${roomId}/members`, { username: user.username });
    if (res.status !== 201) {
      throw new Error(`add member failed: ${res.status} ${JSON.stringify(res.body)}`);
    }
  }
}

/** Sends over REST as `user`, failing loudly unless it is stored. */
export async function postMessage(user: TestUser, roomId: string, content: string, clientId?: string): Promise<any> {
  const res = await user.http.post(`/api/rooms/${roomId}/messages`, { content, clientId });
  if (res.status !== 201) {
    throw new Error(`send failed: ${res.status} ${JSON.stringify(res.body)}`);
  }
  return res.body.message;
}

/** Every message of the room as `user` (a member) reads it back, oldest first. */
export async function storedMessages(user: TestUser, roomId: string): Promise<any[]> {
  const all: any[] = [];
  let afterSeq = 0;
  for (;;) {
    const res = await user.http.get(`/api/rooms/${roomId}/messages?afterSeq=${afterSeq}&limit=100`);
    if (res.status !== 200) {
      throw new Error(`read messages failed: ${res.status} ${JSON.stringify(res.body)}`);
    }
    all.push(...res.body.messages);
    if (!res.body.hasMore) {
      return all;
    }
    afterSeq = all[all.length - 1].seq;
  }
}

/** PROTOCOL.md §3 Message of a user message just sent: role user, complete, no reply, no error. */
export function expectUserMessage(
  message: any,
  expected: { roomId: string; senderId: string; content: string; clientId: string | null; seq?: number },
): void {
  expect(message).toEqual({
    id: expect.stringMatching(UUID),
    roomId: expected.roomId,
    seq: expected.seq ?? expect.any(Number),
    rev: expect.any(Number),
    role: 'user',
    senderId: expected.senderId,
    content: expected.content,
    status: 'complete',
    clientId: expected.clientId,
    replyToId: null,
    createdAt: expect.stringMatching(ISO_UTC),
    updatedAt: expect.stringMatching(ISO_UTC),
  });
  // toEqual passes `error: undefined`; a user message has no error key at all.
  expect(Object.keys(message)).not.toContain('error');
}
