import { Inject, Injectable } from '@nestjs/common';
import { DATABASE, SERVICE_ACTOR, type Database } from '../persistence/database.port';
import type { ProfileDto } from './dto/profile.dto';
import { toProfile, type ProfileRow } from './profile.mapper';

/** What exchanging a refresh token came to (`local_rotate_refresh_token`). */
export type Rotation =
  | { outcome: 'rotated'; profile: ProfileDto }
  /** The token had been exchanged already: its family is revoked now. */
  | { outcome: 'reused'; profileId: string }
  | { outcome: 'revoked' | 'invalid' };

type RotationRow = { outcome: Rotation['outcome'] } & ProfileRow;

/** Local sign-in sessions: refresh tokens, known by their hashes only. Service calls only. */
@Injectable()
export class RefreshTokensRepository {
  constructor(@Inject(DATABASE) private readonly db: Database) {}

  /** A new family (a sign-in) whose first token has this hash. */
  async issue(profileId: string, tokenHash: string, ttlSeconds: number): Promise<void> {
    await this.db.call(SERVICE_ACTOR, 'local_issue_refresh_token', {
      p_profile_id: profileId,
      p_token_hash: tokenHash,
      p_ttl_seconds: ttlSeconds,
    });
  }

  /** Exchanges the token of `tokenHash` for the one of `newTokenHash`, in one transaction. */
  async rotate(tokenHash: string, newTokenHash: string, ttlSeconds: number): Promise<Rotation> {
    const [row] = await this.db.call<RotationRow>(SERVICE_ACTOR, 'local_rotate_refresh_token', {
      p_token_hash: tokenHash,
      p_new_token_hash: newTokenHash,
      p_ttl_seconds: ttlSeconds,
    });
    switch (row.outcome) {
      case 'rotated':
        return { outcome: 'rotated', profile: toProfile(row) };
      case 'reused':
        return { outcome: 'reused', profileId: row.id };
      case 'revoked':
      case 'invalid':
        return { outcome: row.outcome };
    }
  }

  /** Revokes the family of the token; the profile it belonged to, or undefined for a token it does not know. */
  async revoke(tokenHash: string): Promise<string | undefined> {
    const [row] = await this.db.call<{ profile_id: string }>(SERVICE_ACTOR, 'local_revoke_refresh_token', {
      p_token_hash: tokenHash,
    });
    return row?.profile_id;
  }
}
