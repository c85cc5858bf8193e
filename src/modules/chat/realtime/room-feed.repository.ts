import { Inject, Injectable } from '@nestjs/common';
import { toMessage, type MessageDto, type MessageRow } from '../../../common/messages/message';
import { broadcastView } from '../../../common/messages/withheld';
import { DATABASE, SERVICE_ACTOR, type Database } from '../../persistence/database.port';

const PAGE = 100;

/** What an instance reads to repair its room feed: messages it never received, rooms' last seqs. */
@Injectable()
export class RoomFeedRepository {
  constructor(@Inject(DATABASE) private readonly db: Database) {}

  async between(roomId: string, afterSeq: number, beforeSeq: number): Promise<MessageDto[]> {
    const rows = await this.db.call<MessageRow>(SERVICE_ACTOR, 'feed_messages', {
      p_room_id: roomId,
      p_after_seq: afterSeq,
      p_before_seq: beforeSeq,
      p_limit: PAGE,
    });
    // They go to the whole room as the events they stand in for went: a withheld one as its placeholder.
    return rows.map((row) => broadcastView(toMessage(row)));
  }

  async lastSeqs(roomIds: string[]): Promise<Map<string, number>> {
    if (roomIds.length === 0) {
      return new Map();
    }
    const rows = await this.db.call<{ id: string; last_seq: number | string }>(SERVICE_ACTOR, 'feed_last_seqs', {
      p_room_ids: roomIds,
    });
    return new Map(rows.map((row) => [row.id, Number(row.last_seq)]));
  }
}
