import { Inject, Injectable } from '@nestjs/common';
import { isoTimestamp } from '../../../common/messages/timestamp';
import { REALTIME_BROADCASTER, type RealtimeBroadcaster } from '../../../common/realtime/realtime-broadcaster';
import { toProfile, type ProfileRow } from '../../auth/profile.mapper';
import { DATABASE, type Actor, type Database, type UserActor } from '../../persistence/database.port';
import type { BlockListDto, BlockResultDto } from './block.dto';

/**
 * Blocking a person (PROTOCOL.md §3 "Blocks"). The database reads the blocked person's messages to the blocker as
 * placeholders (chat_private.as_read); live, the blocker's sockets join the channel that gets placeholders instead.
 */
@Injectable()
export class BlocksService {
  constructor(
    @Inject(DATABASE) private readonly db: Database,
    @Inject(REALTIME_BROADCASTER) private readonly broadcaster: RealtimeBroadcaster,
  ) {}

  /** Blocks (or unblocks) a person; a repeat changes nothing and answers the same. */
  async set(actor: UserActor, profileId: string, blocked: boolean): Promise<BlockResultDto> {
    await this.db.call(actor, 'block_profile', { p_profile_id: profileId, p_blocked: blocked });
    this.broadcaster.blockChanged(actor.id, profileId, blocked);
    return { profileId, blocked };
  }

  async list(actor: UserActor): Promise<BlockListDto> {
    const rows = await this.db.call<{ created_at: Date | string; profile: ProfileRow }>(actor, 'list_blocks', {});
    return {
      blocks: rows.map((row) => ({ profile: toProfile(row.profile), createdAt: isoTimestamp(row.created_at) })),
    };
  }

  /** The ids of the people the caller blocked (a socket's placeholders channels), read at every handshake. */
  async blockedIds(actor: Actor): Promise<string[]> {
    const rows = await this.db.call<{ profile_id: string }>(actor, 'my_blocked_ids', {});
    return rows.map((row) => row.profile_id);
  }
}
