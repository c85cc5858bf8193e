/**
 * Calls of the public API that many suites make: add members, send, read a room back. Each fails loudly
 * unless the server does what the caller needs for its setup.
 */
import type { TestUser } from './http-client';

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
