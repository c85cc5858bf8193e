import type { LastMessage, Message, UserEvents, WithheldReason } from '../../client/src';
import { button, el } from './dom';

/** What a placeholder says in place of a message withheld from the reader. */
const PLACEHOLDERS: Record<WithheldReason, string> = {
  blocked: 'Message from a blocked person',
  flagged: 'Withheld by moderation',
  pending: 'Held for review',
};

/** The badge on a message the author or the room's owner still sees, that the others do not. */
const BADGES: Record<WithheldReason, string> = {
  blocked: 'Hidden from others',
  flagged: 'Hidden from others',
  pending: 'Held for review',
};

/** What blocking needs: whether the caller blocked a person, and the call. */
export interface BlockActions {
  isBlocked(profileId: string): boolean;
  setBlocked(profileId: string, blocked: boolean): void;
}

/** A placeholder: the message is withheld from the reader and its content is not sent. */
export function isPlaceholder(message: Message): boolean {
  return message.withheld !== undefined && message.content === '';
}

/** The body of a placeholder: a muted line saying why ('' when the message is no placeholder). */
export function placeholderText(message: Message): string {
  return message.withheld && isPlaceholder(message) ? PLACEHOLDERS[message.withheld] : '';
}

/** "Hidden from others" on a withheld message whose content the caller still sees (its author, the room's owner). */
export function withheldBadge(message: Message): HTMLElement[] {
  if (!message.withheld || isPlaceholder(message) || message.deletedAt) {
    return [];
  }
  const badge = el('span', 'withheld-badge', BADGES[message.withheld]);
  badge.title = 'Moderation withheld this message: only you and the room owner see it.';
  return [badge];
}

/** Block (or Unblock) the author of someone else's message. */
export function blockControls(message: Message, myId: string | undefined, actions: BlockActions): HTMLElement[] {
  const senderId = message.senderId;
  if (message.role !== 'user' || !senderId || senderId === myId || message.deletedAt) {
    return [];
  }
  const blocked = actions.isBlocked(senderId);
  return [
    button(
      blocked ? 'Unblock' : 'Block',
      'small secondary',
      () => actions.setBlocked(senderId, !blocked),
      blocked ? 'Unblock sender' : 'Block sender',
    ),
  ];
}

/** A room list's preview of its last message ("" from the server when withheld from the caller). */
export function previewText(message: LastMessage): string {
  return message.withheld && message.preview === '' ? PLACEHOLDERS[message.withheld] : message.preview;
}

/** The notice the author gets when moderation withholds their message. */
export function withheldNotice(event: UserEvents['message:withheld']): string {
  const why = event.categories.length ? ` (${event.categories.join(', ')})` : '';
  return event.reason === 'pending'
    ? `Your message is held for review${why}: the others will see it once moderation has checked it.`
    : `Your message was withheld by moderation${why}: only you and the room owner see it.`;
}
