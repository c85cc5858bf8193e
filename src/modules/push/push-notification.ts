import type { MessageDto } from '../../common/messages/message';
import { previewOf } from '../../common/messages/preview';
import type { PushMessage } from './expo-push.client';

/** What a notification says of a message: where, from whom, and (PUSH_PREVIEW) what. */
export interface PushSubject {
  message: MessageDto;
  roomName: string;
  senderName: string;
}

/**
 * The notifications of one message to one member, one per device: titled "<room> · <sender>", the message's
 * preview (its first 140 characters, as the room list shows it) as the body (or "New message" without previews), `{ roomId, seq, messageId }` as data, and the
 * room as the collapse key, so a newer push of the room replaces the older one on the device. `folded` messages
 * (the rate rule held some back) are counted in a body without preview.
 */
export function notificationsFor(
  subject: PushSubject,
  tokens: string[],
  options: { preview: boolean; folded: number },
): PushMessage[] {
  const { message, roomName, senderName } = subject;
  const collapse = `room-${message.roomId}`;
  const body = options.preview && message.content.trim() ? previewOf(message.content) : bodyWithout(message, options);
  return tokens.map((to) => ({
    to,
    title: `${roomName} · ${senderName}`,
    body,
    data: { roomId: message.roomId, seq: message.seq, messageId: message.id },
    sound: 'default',
    priority: 'high',
    collapseId: collapse,
    tag: collapse,
    threadId: collapse,
  }));
}

function bodyWithout(message: MessageDto, options: { folded: number }): string {
  switch (message.status) {
    case 'failed':
      return 'The reply failed';
    case 'cancelled':
      return 'The reply was stopped';
    case 'complete':
    case 'streaming':
    case 'truncated':
      return options.folded > 1 ? `${options.folded} new messages` : 'New message';
  }
}
