import { Inject, Injectable } from '@nestjs/common';
import { DATABASE, SERVICE_ACTOR, type Database } from '../persistence/database.port';
import type { ProfileDto } from './dto/profile.dto';
import { toProfile, type ProfileRow } from './profile.mapper';

/** Local sign-in data: profiles with their password hashes. Service calls only. */
@Injectable()
export class LocalCredentialsRepository {
  constructor(@Inject(DATABASE) private readonly db: Database) {}

  async register(username: string, displayName: string, passwordHash: string): Promise<ProfileDto> {
    const [row] = await this.db.call<ProfileRow>(SERVICE_ACTOR, 'local_register', {
      p_username: username,
      p_display_name: displayName,
      p_password_hash: passwordHash,
    });
    return toProfile(row);
  }

  async findByUsername(username: string): Promise<{ profile: ProfileDto; passwordHash: string } | undefined> {
    const [row] = await this.db.call<ProfileRow & { password_hash: string }>(SERVICE_ACTOR, 'local_sign_in', {
      p_username: username,
    });
    return row ? { profile: toProfile(row), passwordHash: row.password_hash } : undefined;
  }
}
