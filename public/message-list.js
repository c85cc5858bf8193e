// The open room's messages: one <li> per message in seq order, the sends not yet acknowledged at the end.
// Whatever a person or the model wrote goes into the page as text (textContent), never as HTML.
import { el } from './ui.js';

const STATUS_LABELS = {
  streaming: 'Writing…',
  truncated: 'Truncated: the reply was cut off',
  cancelled: 'Cancelled',
  failed: 'Failed',
};

/** Within this many pixels of the bottom, new messages keep the list scrolled to the end. */
const STICKY_PX = 80;

function timeOf(iso) {
  return new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

/** The text of a message's status line, or '' when there is nothing to say. */
function statusText(message) {
  if (message.status === 'failed') {
    return `Failed: ${message.error?.message ?? 'the reply could not be produced'}`;
  }
  return STATUS_LABELS[message.status] ?? '';
}

/**
 * Keeps what a client must hold of a message when two versions meet (an event and a re-join's backlog
 * may cross): a final state beats a streaming one, and of two streaming versions the longer text wins.
 */
function merge(held, incoming) {
  if (!held || incoming.status !== 'streaming') {
    return incoming;
  }
  if (held.status !== 'streaming') {
    return held;
  }
  return incoming.content.length >= held.content.length ? incoming : { ...incoming, content: held.content };
}

export class MessageList {
  /**
   * @param {HTMLElement} element the scrolling list
   * @param {{ nameOf: (message: object) => string, myId: () => string, onStop: (message: object) => Promise<void> }} hooks
   */
  constructor(element, hooks) {
    this.element = element;
    this.hooks = hooks;
    this.clear();
  }

  clear() {
    /** id → message */
    this.messages = new Map();
    /** message id → <li> */
    this.items = new Map();
    /** clientId → <li> of a send not yet acknowledged */
    this.pending = new Map();
    this.element.replaceChildren();
  }

  /** The highest seq held (0 when none). */
  get highestSeq() {
    let highest = 0;
    for (const { seq } of this.messages.values()) {
      highest = Math.max(highest, seq);
    }
    return highest;
  }

  /** The lowest seq held (0 when none). */
  get lowestSeq() {
    let lowest = 0;
    for (const { seq } of this.messages.values()) {
      lowest = lowest === 0 ? seq : Math.min(lowest, seq);
    }
    return lowest;
  }

  /**
   * The `afterSeq` that a re-join needs: the highest seq held, or just below the oldest reply still streaming
   * (its later deltas or its end may have been missed); undefined when nothing is held.
   */
  get resumeSeq() {
    if (this.messages.size === 0) {
      return undefined;
    }
    let resume = this.highestSeq;
    for (const message of this.messages.values()) {
      if (message.status === 'streaming') {
        resume = Math.min(resume, message.seq - 1);
      }
    }
    return resume;
  }

  /** Adds or replaces messages (deduplicated by id); keeps the view at the bottom if it was there. */
  add(messages, { scrollToEnd = false } = {}) {
    const stick = scrollToEnd || this.nearBottom();
    messages.forEach((message) => this.put(message));
    if (stick) {
      this.scrollToEnd();
    }
  }

  /** Adds an older page above what is shown, keeping the messages in view where they are. */
  addOlder(messages) {
    const before = this.element.scrollHeight;
    messages.forEach((message) => this.put(message));
    this.element.scrollTop += this.element.scrollHeight - before;
  }

  /**
   * Applies a `message:delta`. Answers 'ok', 'unknown' (no such message held) or 'gap' (a delta was missed).
   * A delta already covered by the text held (a re-join brought it) changes nothing.
   */
  applyDelta({ messageId, offset, delta }) {
    const message = this.messages.get(messageId);
    if (!message) {
      return 'unknown';
    }
    if (message.status !== 'streaming' || offset + delta.length <= message.content.length) {
      return 'ok';
    }
    if (offset > message.content.length) {
      return 'gap';
    }
    const stick = this.nearBottom();
    message.content = message.content.slice(0, offset) + delta;
    this.items.get(messageId).querySelector('.body').textContent = message.content;
    if (stick) {
      this.scrollToEnd();
    }
    return 'ok';
  }

  /** Shows a send that the server has not acknowledged yet. */
  addPending(clientId, content) {
    const item = el('li', 'message user mine pending');
    item.dataset.clientId = clientId;
    const meta = el('div', 'meta');
    meta.append(el('span', 'author', 'You'), el('span', 'status', 'Sending…'));
    item.append(meta, el('div', 'body', content));
    this.pending.set(clientId, item);
    this.element.append(item);
    this.scrollToEnd();
  }

  /** Marks a send the server refused; it will not be retried. */
  failPending(clientId, reason) {
    const item = this.pending.get(clientId);
    if (item) {
      this.pending.delete(clientId);
      item.classList.replace('pending', 'not-sent');
      item.querySelector('.status').textContent = `Not sent: ${reason}`;
    }
  }

  /** Writes the authors' names again (after the members were loaded). */
  refreshNames() {
    for (const [id, item] of this.items) {
      item.querySelector('.author').textContent = this.hooks.nameOf(this.messages.get(id));
    }
  }

  put(incoming) {
    const message = merge(this.messages.get(incoming.id), incoming);
    this.messages.set(message.id, message);
    if (message.clientId && message.senderId === this.hooks.myId()) {
      this.pending.get(message.clientId)?.remove();
      this.pending.delete(message.clientId);
    }
    let item = this.items.get(message.id);
    if (!item) {
      item = document.createElement('li');
      this.items.set(message.id, item);
      this.place(item, message.seq);
    }
    this.render(item, message);
  }

  /** Inserts after the last item with a lower seq (searching from the end, where new messages go). */
  place(item, seq) {
    let after = null;
    for (let child = this.element.lastElementChild; child; child = child.previousElementSibling) {
      if (child.dataset.seq && Number(child.dataset.seq) < seq) {
        after = child;
        break;
      }
    }
    this.element.insertBefore(item, after ? after.nextSibling : this.element.firstChild);
  }

  render(item, message) {
    const mine = message.role === 'user' && message.senderId === this.hooks.myId();
    item.className = `message ${message.role} ${message.status}${mine ? ' mine' : ''}`;
    item.dataset.seq = String(message.seq);
    item.dataset.id = message.id;
    item.dataset.status = message.status;
    item.setAttribute('aria-busy', String(message.status === 'streaming'));

    const meta = el('div', 'meta');
    const time = el('time', 'time', timeOf(message.createdAt));
    time.dateTime = message.createdAt;
    meta.append(el('span', 'author', this.hooks.nameOf(message)), time);
    const status = statusText(message);
    if (status) {
      meta.append(el('span', 'status', status));
    }
    if (message.status === 'streaming') {
      const stop = el('button', 'stop small', 'Stop');
      stop.type = 'button';
      stop.setAttribute('aria-label', 'Stop this reply');
      stop.addEventListener('click', () => {
        stop.disabled = true;
        this.hooks.onStop(message).catch(() => (stop.disabled = false));
      });
      meta.append(stop);
    }
    item.replaceChildren(meta, el('div', 'body', message.content));
  }

  /** At the top, or nothing to scroll yet: time for an older page. */
  nearTop() {
    return this.element.scrollTop < STICKY_PX || this.element.scrollHeight <= this.element.clientHeight;
  }

  nearBottom() {
    const { scrollHeight, scrollTop, clientHeight } = this.element;
    return scrollHeight - scrollTop - clientHeight < STICKY_PX;
  }

  scrollToEnd() {
    this.element.scrollTop = this.element.scrollHeight;
  }
}
