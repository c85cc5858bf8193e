import { Inject, Injectable } from '@nestjs/common';
import { DATABASE, type Actor, type Database } from '../persistence/database.port';
import { ProfileDto } from '../auth/dto/profile.dto';
import { toProfile, type ProfileRow } from '../auth/profile.mapper';

@Injectable()
export class ProfilesRepository {
  constructor(@Inject(DATABASE) private readonly db: Database) {}

  async get(actor: Actor, profileId: string): Promise<ProfileDto> {
    const [row] = await this.db.call<ProfileRow>(actor, 'get_profile', { p_profile_id: profileId });
    return toProfile(row);
  }

  /** Only the fields present in `patch` change; `avatarUrl: null` clears it. */
  async updateMine(actor: Actor, patch: { displayName?: string; avatarUrl?: string | null }): Promise<ProfileDto> {
    const sqlPatch: Record<string, unknown> = {};
    if (patch.displayName !== undefined) {
      sqlPatch.display_name = patch.displayName;
    }
    if (patch.avatarUrl !== undefined) {
      sqlPatch.avatar_url = patch.avatarUrl;
    }
    const [row] = await this.db.call<ProfileRow>(actor, 'update_my_profile', { p_patch: sqlPatch });
    return toProfile(row);
  }
}
