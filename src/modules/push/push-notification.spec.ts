import { randomUUID } from 'node:crypto';
import type { MessageDto } from '../../common/messages/message';
import { notificationsFor } from './push-notification';

function message(fields: Partial<MessageDto> = {}): MessageDto {
  return {
    id: randomUUID(),
    roomId: randomUUID(),
    seq: 7,
    rev: 7,
    role: 'user',
    senderId: randomUUID(),
    content: 'hello',
    status: 'complete',
    clientId: null,
    replyToId: null,
    createdAt: '2026-11-30T19:00:00.000Z',
    updatedAt: '2026-11-30T19:00:00.000Z',
    ...fields,
  };
}

describe(notificationsFor.name, () => {
  it('should make one notification per device, collapsed per room, with the room, sender, preview and data', () => {
    const sut = message();

    const notifications = notificationsFor({ message: sut, roomName: 'Lobby', senderName: 'Ada' }, ['a', 'b'], {
      preview: true,
      folded: 1,
    });

    expect(notifications.map((n) => n.to)).toEqual(['a', 'b']);
    expect(notifications[0]).toMatchObject({
      title: 'Lobby · Ada',
      body: 'hello',
      data: { roomId: sut.roomId, seq: 7, messageId: sut.id },
      collapseId: `room-${sut.roomId}`,
      tag: `room-${sut.roomId}`,
    });
  });

  it('should cut the preview at 140 characters without splitting one in two', () => {
    const sut = message({ content: '😀'.repeat(200) });

    const [notification] = notificationsFor({ message: sut, roomName: 'R', senderName: 'S' }, ['a'], {
      preview: true,
      folded: 1,
    });

    expect([...(notification.body ?? '')]).toHaveLength(140);
    expect(notification.body).toBe('😀'.repeat(140));
  });

  it.each([
    [message({ content: 'secret' }), 1, 'New message'],
    [message({ content: 'secret' }), 3, '3 new messages'],
    [message({ role: 'assistant', senderId: null, status: 'failed', content: '' }), 1, 'The reply failed'],
  ])('should say no content without previews (%#)', (sut, folded, body) => {
    const [notification] = notificationsFor({ message: sut, roomName: 'R', senderName: 'S' }, ['a'], {
      preview: false,
      folded,
    });

    expect(notification.body).toBe(body);
  });
});
