import type { Message, OutboxEntry } from '../../client/src';
import { button, el } from './dom';
import { actionButtons, actionsKey, editedMark, reactionBar, type MessageActions } from './message-actions-view';
import { renderMarkdown } from './markdown';
import { VersionsView } from './versions-view';
import { placeholderText, withheldBadge } from './withheld-view';

const STATUS_LABELS: Partial<Record<Message['status'], string>> = {
  streaming: 'Writing…',
  truncated: 'Truncated: the reply was cut off',
  cancelled: 'Cancelled',
};

/** Within this many pixels of the bottom, new messages keep the list scrolled to the end. */
const STICKY_PX = 80;

export interface MessageHooks {
  nameOf(message: Message): string;
  myId(): string | undefined;
  onStop(message: Message): void;
  onRetry(entry: OutboxEntry): void;
  onEdit(entry: OutboxEntry): void;
  onDiscard(entry: OutboxEntry): void;
  /** The list reached its top: load the older page. */
  onTop(): void;
  /** The newest message is in view. */
  onBottom(): void;
  /** Regenerate, edit, delete, report and react. */
  actions: MessageActions;
}

function statusText(message: Message): string {
  if (message.status === 'failed') {
    return `Failed: ${message.error?.message ?? 'the reply could not be produced'}`;
  }
  return STATUS_LABELS[message.status] ?? '';
}

function timeOf(iso: string): string {
  return new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

/**
 * The open room's messages as the SDK holds them (RoomState.messages, gapless by seq; of a question's answers the one
 * paged to, see versions-view.ts), then this room's sends not acknowledged yet (the outbox). Items are kept per
 * message id and redrawn only when their message changed.
 */
export class MessagesView {
  private readonly items = new Map<string, { message: Message; item: HTMLLIElement; key: string }>();
  private firstUnread = Infinity;
  private readonly versions = new VersionsView(() => this.show(...this.shown));
  private shown: [readonly Message[], readonly OutboxEntry[]] = [[], []];

  constructor(
    private readonly list: HTMLOListElement,
    private readonly hooks: MessageHooks,
  ) {
    list.addEventListener('scroll', () => {
      if (list.scrollTop < 40) {
        hooks.onTop();
      }
      if (this.nearBottom()) {
        hooks.onBottom();
      }
    });
  }

  /** Empties the list for another room; messages above `lastReadSeq` from others get the "New" marker. */
  reset(lastReadSeq = Infinity): void {
    this.items.clear();
    this.firstUnread = lastReadSeq;
    this.versions.reset();
    this.shown = [[], []];
    this.list.replaceChildren();
  }

  nearBottom(): boolean {
    return this.list.scrollHeight - this.list.scrollTop - this.list.clientHeight < STICKY_PX;
  }

  show(messages: readonly Message[], pending: readonly OutboxEntry[]): void {
    this.shown = [messages, pending];
    const stick = this.nearBottom();
    const oldTop = this.list.firstElementChild;
    const heightBefore = this.list.scrollHeight;
    const wanted: HTMLLIElement[] = [];
    const seen = new Set<string>();
    const sent = new Set<string>();
    let markerPlaced = false;
    for (const message of this.versions.arrange(messages)) {
      seen.add(message.id);
      if (message.clientId) {
        sent.add(message.clientId);
      }
      const item = this.itemFor(message);
      const unread: boolean = !markerPlaced && message.seq > this.firstUnread && message.senderId !== this.hooks.myId();
      item.classList.toggle('first-unread', unread);
      markerPlaced ||= unread;
      wanted.push(item);
    }
    for (const [id, held] of this.items) {
      if (!seen.has(id)) {
        held.item.remove();
        this.items.delete(id);
      }
    }
    for (const entry of pending) {
      if (!sent.has(entry.clientId)) {
        wanted.push(this.pendingItem(entry));
      }
    }
    this.list.replaceChildren(...wanted);
    if (oldTop && wanted[0] !== oldTop && wanted.includes(oldTop as HTMLLIElement) && !stick) {
      // an older page went in above: keep what was in view where it was
      this.list.scrollTop += this.list.scrollHeight - heightBefore;
    } else if (stick) {
      this.list.scrollTop = this.list.scrollHeight;
    }
  }

  scrollToEnd(): void {
    this.list.scrollTop = this.list.scrollHeight;
  }

  private itemFor(message: Message): HTMLLIElement {
    const name = this.hooks.nameOf(message);
    const key = `${name}|${actionsKey(message, this.hooks.actions)}|${this.versions.key(message)}`;
    const held = this.items.get(message.id);
    if (held && held.message === message && held.key === key) {
      return held.item;
    }
    const item = held?.item ?? el('li');
    this.items.set(message.id, { message, item, key });
    this.render(item, message, name);
    return item;
  }

  private render(item: HTMLLIElement, message: Message, name: string): void {
    const mine = message.role === 'user' && message.senderId === this.hooks.myId();
    const placeholder = placeholderText(message);
    item.className = `message ${message.role} ${message.status}${mine ? ' mine' : ''}${message.deletedAt ? ' deleted' : ''}${placeholder ? ' withheld' : ''}`;
    item.dataset.seq = String(message.seq);
    item.dataset.status = message.status;
    item.setAttribute('aria-busy', String(message.status === 'streaming'));
    const meta = el('div', 'meta');
    meta.append(el('span', 'author', name), el('time', 'time', timeOf(message.createdAt)));
    const status = message.deletedAt ? '' : statusText(message);
    if (status) {
      meta.append(el('span', 'status', status));
    }
    meta.append(...editedMark(message), ...withheldBadge(message), ...this.versions.pager(message));
    if (message.role === 'assistant' && message.status === 'streaming') {
      meta.append(button('Stop', 'small secondary', () => this.hooks.onStop(message), 'Stop this reply'));
    }
    meta.append(...actionButtons(item, message, this.hooks.actions));
    const body = el('div', 'body');
    if (message.deletedAt) {
      body.classList.add('tombstone');
      body.textContent = 'Message deleted';
    } else if (placeholder) {
      body.classList.add('placeholder');
      body.textContent = placeholder;
    } else {
      renderMarkdown(body, message.content);
    }
    item.replaceChildren(meta, body, ...reactionBar(message, this.hooks.actions));
  }

  private pendingItem(entry: OutboxEntry): HTMLLIElement {
    const item = el('li', `message user mine ${entry.state === 'failed' ? 'not-sent' : 'pending'}`);
    item.dataset.clientId = entry.clientId;
    const meta = el('div', 'meta');
    const status = entry.state === 'failed' ? `Not sent: ${entry.error?.message ?? 'refused'}` : 'Sending…';
    meta.append(el('span', 'author', 'You'), el('span', 'status', status));
    if (entry.state === 'failed') {
      meta.append(
        button('Retry', 'small secondary', () => this.hooks.onRetry(entry)),
        button('Edit', 'small secondary', () => this.hooks.onEdit(entry)),
        button('Discard', 'small secondary', () => this.hooks.onDiscard(entry)),
      );
    }
    const body = el('div', 'body');
    body.textContent = entry.content;
    item.append(meta, body);
    return item;
  }
}
