import { isoTimestamp } from '../../common/messages/timestamp';
import type { ProfileDto } from './dto/profile.dto';

/** A profile as the SQL functions return it. */
export interface ProfileRow {
  id: string;
  username: string;
  display_name: string;
  avatar_url: string | null;
  created_at: Date | string;
}

export function toProfile(row: ProfileRow): ProfileDto {
  return {
    id: row.id,
    username: row.username,
    displayName: row.display_name,
    avatarUrl: row.avatar_url,
    createdAt: isoTimestamp(row.created_at),
  };
}
