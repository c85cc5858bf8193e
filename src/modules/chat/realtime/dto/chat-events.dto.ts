import {
  IsBoolean,
  IsInt,
  IsString,
  IsUUID,
  Length,
  Matches,
  Max,
  Min,
  isBoolean,
  isString,
  isUUID,
  matches,
} from 'class-validator';
import type { FastSchema } from '../../../../common/validation/fast-payload';
import { Optional } from '../../../../common/validation/optional.decorator';
import { CLIENT_ID } from '../../dto/message.dto';

const ROOM_ID = { message: 'must be a room id (UUID)' };
const CLIENT_ID_RULE = { message: 'must be 1–64 characters of A-Z a-z 0-9 - _' };
const STRING = { message: 'must be a string' };
const BOOLEAN = { message: 'must be true or false' };
const roomIdCheck = { test: (v: unknown) => isUUID(v, 'all'), ...ROOM_ID };
const LIMIT = { message: 'must be a whole number from 1 to 100' };
const SEQ = { message: 'must be a whole number from 0' };
/** Far above any access token of ours or Supabase's (a few hundred characters, a few KB with large metadata). */
export const MAX_TOKEN_LENGTH = 16_384;
const TOKEN = { message: `must be an access token (a string of 1–${MAX_TOKEN_LENGTH} characters)` };

/** `room:join` */
export class JoinRoomEvent {
  @IsUUID('all', ROOM_ID)
  roomId!: string;

  @Optional()
  @IsInt(SEQ)
  @Min(0, SEQ)
  @Max(Number.MAX_SAFE_INTEGER, SEQ)
  afterSeq?: number;

  /** Resume by change number instead: the messages changed after it, in rev order (not with afterSeq). */
  @Optional()
  @IsInt(SEQ)
  @Min(0, SEQ)
  @Max(Number.MAX_SAFE_INTEGER, SEQ)
  afterRev?: number;

  @Optional()
  @IsInt(LIMIT)
  @Min(1, LIMIT)
  @Max(100, LIMIT)
  limit?: number;
}

/** `room:read` */
export class ReadRoomEvent {
  @IsUUID('all', ROOM_ID)
  roomId!: string;

  @IsInt(SEQ)
  @Min(0, SEQ)
  @Max(Number.MAX_SAFE_INTEGER, SEQ)
  seq!: number;
}

/** `room:leave` */
export class LeaveRoomEvent {
  @IsUUID('all', ROOM_ID)
  roomId!: string;
}

/** `message:send` — `clientId` is required over sockets: a retried emit must never store twice. */
export class SendMessageEvent {
  @IsUUID('all', ROOM_ID)
  roomId!: string;

  @IsString(STRING)
  content!: string;

  @IsString(CLIENT_ID_RULE)
  @Matches(CLIENT_ID, CLIENT_ID_RULE)
  clientId!: string;
}

/** SendMessageEvent for validateFast: the same checks and messages. */
export const SEND_MESSAGE_EVENT: FastSchema<SendMessageEvent> = {
  roomId: [roomIdCheck],
  content: [{ test: isString, ...STRING }],
  clientId: [
    { test: isString, ...CLIENT_ID_RULE },
    { test: (v) => typeof v === 'string' && matches(v, CLIENT_ID), ...CLIENT_ID_RULE },
  ],
};

/** `typing:update` */
export class TypingEvent {
  @IsUUID('all', ROOM_ID)
  roomId!: string;

  @IsBoolean(BOOLEAN)
  isTyping!: boolean;
}

/** TypingEvent for validateFast: the same checks and messages. */
export const TYPING_EVENT: FastSchema<TypingEvent> = {
  roomId: [roomIdCheck],
  isTyping: [{ test: isBoolean, ...BOOLEAN }],
};

/** `ai:stop`, and `ai:regenerate` (the same fields) */
export class StopReplyEvent {
  @IsUUID('all', ROOM_ID)
  roomId!: string;

  @IsUUID('all', { message: 'must be a message id (UUID)' })
  messageId!: string;
}

/** `auth:refresh` */
export class RefreshSessionEvent {
  @IsString(TOKEN)
  @Length(1, MAX_TOKEN_LENGTH, TOKEN)
  token!: string;
}

const MESSAGE_ID = { message: 'must be a message id (UUID)' };

/** `message:edit` */
export class EditMessageEvent {
  @IsUUID('all', ROOM_ID)
  roomId!: string;

  @IsUUID('all', MESSAGE_ID)
  messageId!: string;

  @IsString(STRING)
  content!: string;

  @Optional()
  @IsBoolean(BOOLEAN)
  rerun?: boolean;
}

/** `message:delete` */
export class DeleteMessageEvent {
  @IsUUID('all', ROOM_ID)
  roomId!: string;

  @IsUUID('all', MESSAGE_ID)
  messageId!: string;
}

/** `reaction:add` / `reaction:remove` (the emoji itself is checked by MessageChangesService). */
export class ReactionEvent {
  @IsUUID('all', ROOM_ID)
  roomId!: string;

  @IsUUID('all', MESSAGE_ID)
  messageId!: string;

  @IsString(STRING)
  emoji!: string;
}
