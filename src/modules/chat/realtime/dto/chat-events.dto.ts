import { IsBoolean, IsInt, IsString, IsUUID, Matches, Max, Min } from 'class-validator';
import { Optional } from '../../../../common/validation/optional.decorator';
import { CLIENT_ID } from '../../dto/message.dto';

const ROOM_ID = { message: 'must be a room id (UUID)' };
const LIMIT = { message: 'must be a whole number from 1 to 100' };
const SEQ = { message: 'must be a whole number from 0' };

/** `room:join` */
export class JoinRoomEvent {
  @IsUUID('all', ROOM_ID)
  roomId!: string;

  @Optional()
  @IsInt(SEQ)
  @Min(0, SEQ)
  @Max(Number.MAX_SAFE_INTEGER, SEQ)
  afterSeq?: number;

  @Optional()
  @IsInt(LIMIT)
  @Min(1, LIMIT)
  @Max(100, LIMIT)
  limit?: number;
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

  @IsString({ message: 'must be a string' })
  content!: string;

  @IsString({ message: 'must be 1–64 characters of A-Z a-z 0-9 - _' })
  @Matches(CLIENT_ID, { message: 'must be 1–64 characters of A-Z a-z 0-9 - _' })
  clientId!: string;
}

/** `typing:update` */
export class TypingEvent {
  @IsUUID('all', ROOM_ID)
  roomId!: string;

  @IsBoolean({ message: 'must be true or false' })
  isTyping!: boolean;
}

/** `ai:stop` */
export class StopReplyEvent {
  @IsUUID('all', ROOM_ID)
  roomId!: string;

  @IsUUID('all', { message: 'must be a message id (UUID)' })
  messageId!: string;
}
