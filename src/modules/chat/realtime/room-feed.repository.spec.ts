import type { MessageRow } from '../../../common/messages/message';
import type { Database } from '../../persistence/database.port';
import { RoomFeedRepository } from './room-feed.repository';

/** A stored row as `feed_messages` returns it (the table's own row). */
function row(seq: number, extra: Partial<MessageRow> = {}): MessageRow {
  return {
    id: `00000000-0000-4000-8000-00000000000${seq}`,
    chatroom_id: '11111111-1111-4111-8111-111111111111',
    seq,
    rev: seq,
    role: 'user',
    sender_id: '22222222-2222-4222-8222-222222222222',
    content: `message ${seq}`,
    status: 'complete',
    client_id: `client-${seq}`,
    reply_to_id: null,
    error_code: null,
    error_message: null,
    created_at: '2026-12-01 07:00:00+00',
    updated_at: '2026-12-01 07:00:00+00',
    reactions: { '👍': 2 },
    ...extra,
  };
}

describe('RoomFeedRepository.between (what an instance repairs its room feed with)', () => {
  it('should give a withheld message as the placeholder the room got live, and others as they are', async () => {
    const rows = [row(1), row(2, { withheld: 'flagged', content: 'still held by the row' })];
    const db = { call: jest.fn().mockResolvedValue(rows) } as unknown as Database;

    const [plain, withheld] = await new RoomFeedRepository(db).between(rows[0].chatroom_id, 0, 3);

    expect(plain).toMatchObject({ seq: 1, content: 'message 1', clientId: 'client-1', reactions: { '👍': 2 } });
    expect(withheld).toEqual({
      id: rows[1].id,
      roomId: rows[1].chatroom_id,
      seq: 2,
      rev: 2,
      role: 'user',
      senderId: rows[1].sender_id,
      content: '',
      status: 'complete',
      clientId: null,
      replyToId: null,
      createdAt: '2026-12-01T07:00:00.000Z',
      updatedAt: '2026-12-01T07:00:00.000Z',
      withheld: 'flagged',
    });
  });
});
