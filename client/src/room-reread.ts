import type { Connection } from './connection';
import type { Message } from './protocol';
import type { RoomState } from './room-state';

/** The page size of a re-read (the most `GET /api/rooms/:id/messages` gives). */
const REREAD_LIMIT = 100;

/**
 * Reads the messages a room holds again, `fromSeq..toSeq` within its window, page by page (`GET
 * /api/rooms/:id/messages` with `afterSeq` and `beforeSeq`), each copy replacing the one held (`reread`): what the
 * caller may see changed without a change to the room (a block, an unblock, moderation), and nothing is re-sent.
 * `paged` is called after each page.
 */
export async function rereadRoom(
  connection: Pick<Connection, 'http'>,
  room: RoomState,
  range: { fromSeq?: number; toSeq?: number },
  paged: () => void,
): Promise<void> {
  if (!room.isLoaded || room.lastSeq === 0) {
    return;
  }
  let after = Math.max(range.fromSeq ?? 0, room.firstSeq) - 1;
  const before = Math.min(range.toSeq ?? Infinity, room.lastSeq) + 1;
  while (after + 1 < before) {
    const query = `afterSeq=${after}&beforeSeq=${before}&limit=${REREAD_LIMIT}`;
    const page = await connection.http<{ messages: Message[]; hasMore: boolean }>(
      'GET',
      `/api/rooms/${encodeURIComponent(room.roomId)}/messages?${query}`,
    );
    room.mergePage(page.messages, { reread: true });
    paged();
    const last = page.messages.at(-1);
    if (!last || !page.hasMore) {
      return;
    }
    after = last.seq;
  }
}
