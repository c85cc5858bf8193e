import { Inject, Injectable } from '@nestjs/common';
import { isoTimestamp } from '../../common/messages/timestamp';
import { DATABASE, SERVICE_ACTOR, type Database, type UserActor } from '../persistence/database.port';
import type { DeviceDto, Platform } from './dto/device.dto';

interface DeviceRow {
  token: string;
  platform: Platform;
  locale: string | null;
  created_at: string | Date;
  updated_at: string | Date;
}

interface TargetRow {
  profile_id: string;
  last_read_seq: number | string;
  tokens: string[];
  room_name: string;
  sender_name: string;
}

/** A member who may get a push for a message (see `push_targets`): not its writer, not muted, unread, with devices. */
export interface PushTarget {
  profileId: string;
  lastReadSeq: number;
  /** Their devices' push tokens, the most recently registered first. */
  tokens: string[];
  roomName: string;
  senderName: string;
}

/** Push devices: the caller's own (as them, under RLS), and what the push service reads and removes (service). */
@Injectable()
export class DevicesRepository {
  constructor(@Inject(DATABASE) private readonly db: Database) {}

  async register(actor: UserActor, token: string, platform: Platform, locale: string | null): Promise<DeviceDto> {
    const [row] = await this.db.call<DeviceRow>(actor, 'register_push_device', {
      p_token: token,
      p_platform: platform,
      p_locale: locale,
    });
    return toDevice(row);
  }

  async listMine(actor: UserActor): Promise<DeviceDto[]> {
    const rows = await this.db.call<DeviceRow>(actor, 'list_push_devices', {});
    return rows.map(toDevice);
  }

  /** True when the token was one of the caller's devices (and is no longer). */
  async unregister(actor: UserActor, token: string): Promise<boolean> {
    const [row] = await this.db.call<{ removed: boolean }>(actor, 'unregister_push_device', { p_token: token });
    return row?.removed === true;
  }

  /** Sign-out: the device goes only while it is that profile's (another account may have it by now). */
  async removeForProfile(profileId: string, token: string): Promise<void> {
    await this.db.call(SERVICE_ACTOR, 'remove_push_tokens', { p_tokens: [token], p_profile_id: profileId });
  }

  /** Tokens the push service no longer knows (DeviceNotRegistered), whoever they belonged to. */
  async removeTokens(tokens: string[]): Promise<void> {
    await this.db.call(SERVICE_ACTOR, 'remove_push_tokens', { p_tokens: tokens, p_profile_id: null });
  }

  /** The members who may get a push for the stored message, as the database sees them now. */
  async targets(messageId: string): Promise<PushTarget[]> {
    const rows = await this.db.call<TargetRow>(SERVICE_ACTOR, 'push_targets', { p_message_id: messageId });
    return rows.map((row) => ({
      profileId: row.profile_id,
      lastReadSeq: Number(row.last_read_seq),
      tokens: row.tokens,
      roomName: row.room_name,
      senderName: row.sender_name,
    }));
  }
}

function toDevice(row: DeviceRow): DeviceDto {
  return {
    token: row.token,
    platform: row.platform,
    locale: row.locale,
    createdAt: isoTimestamp(row.created_at),
    updatedAt: isoTimestamp(row.updated_at),
  };
}
