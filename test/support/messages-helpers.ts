import type { HttpResult, TestUser } from './http-client';

/** A room for message tests: AI off, so every seq in it belongs to a user message the test sent. */
export async function createRoom(owner: TestUser, visibility: 'private' | 'public' = 'private'): Promise<any> {
  const res = await owner.http.post('/api/rooms', { name: `messages ${visibility}`, visibility, ai: { mode: 'off' } });
  if (res.status !== 201) {
    throw new Error(`create room failed: ${res.status} ${JSON.stringify(res.body)}`);
  }
  return res.body;
}

/** The owner adds each user to the room by username. */
export async function addMembers(owner: TestUser, roomId: string, users: TestUser[]): Promise<void> {
  for (const user of users) {
    const res = await owner.http.post(`/api/rooms/${roomId}/members`, { username: user.username });
    if (res.status !== 201) {
      throw new Error(`add member failed: ${res.status} ${JSON.stringify(res.body)}`);
    }
  }
}

export function sendMessage(user: TestUser, roomId: string, body: unknown): Promise<HttpResult> {
  return user.http.post(`/api/rooms/${roomId}/messages`, body);
}

/** Sends `count` messages (`${prefix}-1` …) in parallel batches; returns the stored messages by seq. */
export async function sendMany(
  user: TestUser,
  roomId: string,
  count: number,
  prefix = 'm',
  batchSize = 20,
): Promise<Map<number, any>> {
  const bySeq = new Map<number, any>();
  for (let start = 1; start <= count; start += batchSize) {
    const batch = Array.from({ length: Math.min(batchSize, count - start + 1) }, (_, i) =>
      sendMessage(user, roomId, { content: `${prefix}-${start + i}` }),
    );
    for (const res of await Promise.all(batch)) {
      if (res.status !== 201) {
        throw new Error(`send failed: ${res.status} ${JSON.stringify(res.body)}`);
      }
      bySeq.set(res.body.message.seq, res.body.message);
    }
  }
  return bySeq;
}

/** A page of the room's messages as `user` sees it; `query` is the raw query string without `?`. */
export function readPage(user: TestUser, roomId: string, query = ''): Promise<HttpResult> {
  return user.http.get(`/api/rooms/${roomId}/messages${query ? `?${query}` : ''}`);
}

/** Every message of the room, oldest first, read page by page with afterSeq. */
export async function readAll(user: TestUser, roomId: string): Promise<any[]> {
  const all: any[] = [];
  let afterSeq = 0;
  for (;;) {
    const res = await readPage(user, roomId, `afterSeq=${afterSeq}&limit=100`);
    if (res.status !== 200) {
      throw new Error(`read messages failed: ${res.status} ${JSON.stringify(res.body)}`);
    }
    all.push(...res.body.messages);
    if (!res.body.hasMore || res.body.messages.length === 0) {
      return all;
    }
    afterSeq = res.body.messages[res.body.messages.length - 1].seq;
  }
}

/** What the owner sees of a room's messages: every message and the room's lastSeq. */
export async function snapshot(owner: TestUser, roomId: string): Promise<{ lastSeq: number; messages: any[] }> {
  const room = await owner.http.get(`/api/rooms/${roomId}`);
  if (room.status !== 200) {
    throw new Error(`get room failed: ${room.status} ${JSON.stringify(room.body)}`);
  }
  return { lastSeq: room.body.lastSeq, messages: await readAll(owner, roomId) };
}

export const seqs = (messages: any[]): number[] => messages.map((m) => m.seq);

export const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);
