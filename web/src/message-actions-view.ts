import type { ChatClient, Message } from '../../client/src';
import { button, el, reportError } from './dom';

/** The reactions every message offers (any other emoji a message has is shown too). */
export const REACTIONS = ['👍', '❤️', '😂', '🎉'] as const;
/** The server's default `MESSAGE_EDIT_WINDOW_SECONDS` (900): clients are not told the configured one. */
const EDIT_WINDOW_MS = 900_000;

/** What a message's actions need: who the caller is, what they may do, and the calls. */
export interface MessageActions {
  myId(): string | undefined;
  /** Whether the caller owns the message's room (an owner deletes anyone's message). */
  ownsRoom(roomId: string): boolean;
  /** The emoji the caller reacted with on the message. */
  myReactions(message: Message): ReadonlySet<string>;
  edit(message: Message, content: string): void;
  delete(message: Message): void;
  react(message: Message, emoji: string, add: boolean): void;
}

/** The actions on the SDK: each call's refusal shows in the alert line; the acks update the room's state. */
export function clientActions(client: ChatClient, ownsRoom: (roomId: string) => boolean): MessageActions {
  return {
    myId: () => client.userId,
    ownsRoom,
    myReactions: (m) => client.room(m.roomId).myReactions(m.id),
    edit: (m, content) => void client.editMessage(m.roomId, m.id, content).catch(reportError),
    delete: (m) => void client.deleteMessage(m.roomId, m.id).catch(reportError),
    react: (m, emoji, add) =>
      void (add ? client.addReaction(m.roomId, m.id, emoji) : client.removeReaction(m.roomId, m.id, emoji)).catch(
        reportError,
      ),
  };
}

/** What a message's item shows besides the message itself: redraw the item when this changes. */
export function actionsKey(message: Message, actions: MessageActions): string {
  return `${actions.ownsRoom(message.roomId)}|${[...actions.myReactions(message)].join(',')}`;
}

/** "(edited)" for the meta line of an edited message that is not deleted. */
export function editedMark(message: Message): HTMLElement[] {
  return message.editedAt && !message.deletedAt ? [el('span', 'edited', '(edited)')] : [];
}

/** The buttons of a message's meta line: Edit (own, within the window), Delete (own; the owner's: any). */
export function actionButtons(item: HTMLLIElement, message: Message, actions: MessageActions): HTMLButtonElement[] {
  if (message.deletedAt || message.status === 'streaming') {
    return [];
  }
  const own = message.role === 'user' && message.senderId === actions.myId();
  const buttons: HTMLButtonElement[] = [];
  if (own && Date.now() - Date.parse(message.createdAt) < EDIT_WINDOW_MS) {
    buttons.push(button('Edit', 'small secondary', () => startEdit(item, message, actions), 'Edit message'));
  }
  if (own || actions.ownsRoom(message.roomId)) {
    buttons.push(button('Delete', 'small secondary', () => confirmDelete(item, message, actions), 'Delete message'));
  }
  return buttons;
}

/** The reaction buttons under a message: each emoji with its count, the caller's own pressed. */
export function reactionBar(message: Message, actions: MessageActions): HTMLElement[] {
  if (message.deletedAt) {
    return [];
  }
  const mine = actions.myReactions(message);
  const counts = message.reactions ?? {};
  const bar = el('div', 'reactions');
  for (const emoji of new Set([...REACTIONS, ...Object.keys(counts)])) {
    const count = counts[emoji] ?? 0;
    const pressed = mine.has(emoji);
    const label = `${emoji} ${count} ${count === 1 ? 'reaction' : 'reactions'}${pressed ? ', yours included' : ''}`;
    const react = button(count > 0 ? `${emoji} ${count}` : emoji, 'small reaction', () =>
      actions.react(message, emoji, !pressed),
    );
    react.title = `React with ${emoji}`;
    react.setAttribute('aria-label', `React with ${emoji}: ${label}`);
    react.setAttribute('aria-pressed', String(pressed));
    bar.append(react);
  }
  return [bar];
}

/** The body becomes a form to edit the text; Save sends it, Cancel puts the body back. */
function startEdit(item: HTMLLIElement, message: Message, actions: MessageActions): void {
  const body = item.querySelector('.body');
  if (!body || item.querySelector('.edit-form')) {
    return;
  }
  const form = el('form', 'edit-form');
  const input = el('textarea');
  input.value = message.content;
  input.rows = 3;
  input.setAttribute('aria-label', 'Edit message');
  const save = el('button', 'small', 'Save');
  save.type = 'submit';
  form.append(
    input,
    save,
    button('Cancel', 'small secondary', () => form.replaceWith(body)),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const content = input.value.trim();
    if (content && content !== message.content) {
      actions.edit(message, content);
    } else {
      form.replaceWith(body);
    }
  });
  body.replaceWith(form);
  input.focus();
}

/** Delete asks first, in the item itself, as deleting the room does. */
function confirmDelete(item: HTMLLIElement, message: Message, actions: MessageActions): void {
  if (item.querySelector('.confirm-delete')) {
    return;
  }
  const ask = el('p', 'confirm-delete row');
  ask.append(
    el('span', '', 'Delete this message for everyone?'),
    button('Delete for everyone', 'small danger', () => actions.delete(message)),
    button('Keep it', 'small secondary', () => ask.remove()),
  );
  item.append(ask);
}
