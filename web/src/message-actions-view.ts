import type { ChatClient, Message } from '../../client/src';
import { button, el, reportError, textForm } from './dom';
import { reportControls, type ReportActions } from './report-view';
import { blockControls, isPlaceholder, type BlockActions } from './withheld-view';

/** The reactions every message offers (any other emoji a message has is shown too). */
export const REACTIONS = ['👍', '❤️', '😂', '🎉'] as const;

/** What a message's actions need: who the caller is, what they may do, and the calls. */
export interface MessageActions extends ReportActions, BlockActions {
  /** Whether the caller owns the message's room (an owner deletes anyone's message). */
  ownsRoom(roomId: string): boolean;
  /** Whether the server's edit window (`GET /api/limits`) is still open for the message; false until it is known. */
  inEditWindow(message: Message): boolean;
  /** The emoji the caller reacted with on the message. */
  myReactions(message: Message): ReadonlySet<string>;
  edit(message: Message, content: string): void;
  delete(message: Message): void;
  react(message: Message, emoji: string, add: boolean): void;
  /** Whether the room's assistant answers (Regenerate is refused with CONFLICT when it is off). */
  answers(roomId: string): boolean;
  /** A new answer to the question the assistant's reply answers. */
  regenerate(message: Message): void;
}

/**
 * The actions on the SDK: each call's refusal shows in the alert line; the acks update the room's state. The limits
 * are read once; `changed` redraws the room when they arrive or a report was taken.
 */
export function clientActions(
  client: ChatClient,
  ownsRoom: (roomId: string) => boolean,
  changed: () => void,
): MessageActions {
  let editWindowMs: number | undefined;
  const reported = new Set<string>();
  client.limits().then((limits) => {
    editWindowMs = limits.editWindowSeconds * 1000;
    changed();
  }, reportError);
  return {
    myId: () => client.userId,
    ownsRoom,
    inEditWindow: (m) => editWindowMs !== undefined && Date.now() < Date.parse(m.createdAt) + editWindowMs,
    myReactions: (m) => client.room(m.roomId).myReactions(m.id),
    edit: (m, content) => void client.editMessage(m.roomId, m.id, content).catch(reportError),
    delete: (m) => void client.deleteMessage(m.roomId, m.id).catch(reportError),
    react: (m, emoji, add) =>
      void (add ? client.addReaction(m.roomId, m.id, emoji) : client.removeReaction(m.roomId, m.id, emoji)).catch(
        reportError,
      ),
    answers: (roomId) => {
      const ai = client.inbox.find((entry) => entry.roomId === roomId)?.room?.ai;
      return ai !== undefined && ai.available && ai.mode !== 'off';
    },
    regenerate: (m) => void client.regenerate(m.roomId, m.id).catch(reportError),
    isBlocked: (profileId) => client.isBlocked(profileId),
    setBlocked: (profileId, blocked) =>
      void (blocked ? client.block(profileId) : client.unblock(profileId)).catch(reportError),
    isReported: (m) => reported.has(m.id),
    report: async (m, reason) => {
      await client.reportMessage(m.id, reason);
      reported.add(m.id);
      changed();
    },
  };
}

/** What a message's item shows besides the message itself: redraw the item when this changes. */
export function actionsKey(message: Message, actions: MessageActions): string {
  const mine = [...actions.myReactions(message)].join(',');
  const may = [actions.ownsRoom(message.roomId), actions.answers(message.roomId), actions.inEditWindow(message)];
  const blocked = message.senderId !== null && actions.isBlocked(message.senderId);
  return `${may.join(',')}|${actions.isReported(message)}|${blocked}|${mine}`;
}

/** "(edited)" for the meta line of an edited message that is not deleted. */
export function editedMark(message: Message): HTMLElement[] {
  return message.editedAt && !message.deletedAt ? [el('span', 'edited', '(edited)')] : [];
}

/**
 * The controls of a message's meta line: Regenerate (an assistant's reply, while the room's assistant answers), Edit (own, within the window), Delete
 * (own; the owner's: any), Report (others', not a placeholder), Block or Unblock (others').
 */
export function actionButtons(item: HTMLLIElement, message: Message, actions: MessageActions): HTMLElement[] {
  if (message.deletedAt || message.status === 'streaming') {
    return [];
  }
  const own = message.role === 'user' && message.senderId === actions.myId();
  const buttons: HTMLElement[] = [];
  if (message.role === 'assistant' && message.replyToId && actions.answers(message.roomId)) {
    buttons.push(button('Regenerate', 'small secondary', () => actions.regenerate(message), 'Regenerate answer'));
  }
  if (own && actions.inEditWindow(message)) {
    buttons.push(button('Edit', 'small secondary', () => startEdit(item, message, actions), 'Edit message'));
  }
  if (own || actions.ownsRoom(message.roomId)) {
    buttons.push(button('Delete', 'small secondary', () => confirmDelete(item, message, actions), 'Delete message'));
  }
  const report = isPlaceholder(message) ? [] : reportControls(item, message, actions);
  return [...buttons, ...report, ...blockControls(message, actions.myId(), actions)];
}

/** The reaction buttons under a message: each emoji with its count, the caller's own pressed. */
export function reactionBar(message: Message, actions: MessageActions): HTMLElement[] {
  if (message.deletedAt || isPlaceholder(message)) {
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
  const { form, input } = textForm('edit-form', 'Edit message', 'Save', {
    submit: (content) => {
      if (content && content !== message.content) {
        actions.edit(message, content);
      } else {
        form.replaceWith(body);
      }
    },
    cancel: (shown) => shown.replaceWith(body),
  });
  input.value = message.content;
  input.rows = 3;
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
