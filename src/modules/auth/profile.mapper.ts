import type { ProfileDto } from './dto/profile.dto';

/** A profile as the SQL functions return it. */
export interface ProfileRow {
  id: string;
  username: string;
  display_name: string;
  avatar_url: string | null;
  created_at: Date;
}

export function toProfile(row: ProfileRow): ProfileDto {
  return {
    id: row.id,
    username: row.username,
    displayName: row.display_name,
    avatarUrl: row.avatar_url,
    createdAt: new Date(row.created_at).toISOString(),
  };
}
