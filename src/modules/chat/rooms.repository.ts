import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../../config/app-config';
import { DATABASE, type Actor, type Database } from '../persistence/database.port';
import { toMember, toRoom, type AiSettings, type MemberRow, type RoomRow } from './chat.mappers';
import type { MemberDto } from './dto/member.dto';
import type { RoomDto } from './dto/room.dto';

export interface RoomFields {
  name?: string;
  readReceipts?: boolean;
  visibility?: RoomDto['visibility'];
  ai?: { mode?: RoomDto['ai']['mode']; systemPrompt?: string | null; model?: string | null };
}

export interface ReadResult {
  lastReadSeq: number;
  /** Whether the call moved the pointer (a pointer at or past seq stays where it is). */
  moved: boolean;
  readReceipts: boolean;
  unread: number;
}

/** Rooms and their members, through the SQL functions, as the calling user. */
@Injectable()
export class RoomsRepository {
  private readonly ai: AiSettings;

  constructor(
    @Inject(DATABASE) private readonly db: Database,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.ai = { defaultModel: config.ai.model, models: config.ai.models, available: Boolean(config.ai.apiKey) };
  }

  async create(actor: Actor, fields: RoomFields & { name: string }): Promise<RoomDto> {
    return this.one(actor, 'create_room', {
      p_name: fields.name,
      p_visibility: fields.visibility ?? 'private',
      p_ai_mode: fields.ai?.mode ?? 'always',
      p_ai_system_prompt: fields.ai?.systemPrompt ?? null,
      p_ai_model: fields.ai?.model ?? null,
    });
  }

  async listMine(actor: Actor): Promise<RoomDto[]> {
    return this.many(actor, 'list_my_rooms', {});
  }

  async listPublic(actor: Actor, query: string | undefined, limit: number): Promise<RoomDto[]> {
    return this.many(actor, 'list_public_rooms', { p_query: query ?? null, p_limit: limit });
  }

  async get(actor: Actor, roomId: string): Promise<RoomDto> {
    return this.one(actor, 'get_room', { p_room_id: roomId });
  }

  /** Only the fields present change (`ai: { mode }` leaves the prompt as it was). */
  async update(actor: Actor, roomId: string, fields: RoomFields): Promise<RoomDto> {
    const patch: Record<string, unknown> = {};
    const set = (key: string, value: unknown) => value !== undefined && (patch[key] = value);
    set('name', fields.name);
    set('visibility', fields.visibility);
    set('ai_mode', fields.ai?.mode);
    set('ai_system_prompt', fields.ai?.systemPrompt);
    set('ai_model', fields.ai?.model);
    set('read_receipts', fields.readReceipts);
    return this.one(actor, 'update_room', { p_room_id: roomId, p_patch: patch });
  }

  async delete(actor: Actor, roomId: string): Promise<void> {
    await this.db.call(actor, 'delete_room', { p_room_id: roomId });
  }

  async join(actor: Actor, roomId: string): Promise<RoomDto> {
    return this.one(actor, 'join_room', { p_room_id: roomId });
  }

  async leave(actor: Actor, roomId: string): Promise<void> {
    await this.db.call(actor, 'leave_room', { p_room_id: roomId });
  }

  /** Moves the caller's read pointer forward to seq (at most the room's last seq); never back. */
  async markRead(actor: Actor, roomId: string, seq: number): Promise<ReadResult> {
    const [row] = await this.db.call<{ last_read_seq: number; moved: boolean; read_receipts: boolean; unread: number }>(
      actor,
      'mark_room_read',
      { p_room_id: roomId, p_seq: seq },
    );
    return { lastReadSeq: row.last_read_seq, moved: row.moved, readReceipts: row.read_receipts, unread: row.unread };
  }

  async setMuted(actor: Actor, roomId: string, muted: boolean): Promise<RoomDto> {
    return this.one(actor, 'set_room_muted', { p_room_id: roomId, p_muted: muted });
  }

  /** The ids of the caller's rooms. */
  async myRoomIds(actor: Actor): Promise<string[]> {
    const rows = await this.db.call<{ room_id: string }>(actor, 'list_my_room_ids', {});
    return rows.map((row) => row.room_id);
  }

  async listMembers(actor: Actor, roomId: string): Promise<MemberDto[]> {
    const rows = await this.db.call<MemberRow>(actor, 'list_members', { p_room_id: roomId });
    return rows.map(toMember);
  }

  async addMember(actor: Actor, roomId: string, username: string): Promise<MemberDto> {
    const [row] = await this.db.call<MemberRow>(actor, 'add_member', { p_room_id: roomId, p_username: username });
    return toMember(row);
  }

  async removeMember(actor: Actor, roomId: string, profileId: string): Promise<void> {
    await this.db.call(actor, 'remove_member', { p_room_id: roomId, p_profile_id: profileId });
  }

  private async one(actor: Actor, fn: string, args: Record<string, unknown>): Promise<RoomDto> {
    const [room] = await this.many(actor, fn, args);
    return room;
  }

  private async many(actor: Actor, fn: string, args: Record<string, unknown>): Promise<RoomDto[]> {
    const rows = await this.db.call<RoomRow>(actor, fn, args);
    return rows.map((row) => toRoom(row, this.ai));
  }
}
