// Our own typing state, told to the room with `typing:update`: refreshed while keys are pressed (the server
// forgets it after 5 s without an update) and ended after a pause or when the text is cleared.

const REFRESH_MS = 3000;
const IDLE_MS = 3000;

export class TypingNotifier {
  /** @param {(isTyping: boolean) => void} notify */
  constructor(notify) {
    this.notify = notify;
    this.sentAt = 0;
    this.timer = undefined;
  }

  /** Call on every edit of the composer. */
  input(hasText) {
    clearTimeout(this.timer);
    if (!hasText) {
      this.stop();
      return;
    }
    if (Date.now() - this.sentAt > REFRESH_MS) {
      this.sentAt = Date.now();
      this.notify(true);
    }
    this.timer = setTimeout(() => this.stop(), IDLE_MS);
  }

  /** Ends typing (if it was on). */
  stop() {
    clearTimeout(this.timer);
    if (this.sentAt) {
      this.sentAt = 0;
      this.notify(false);
    }
  }

  /** A message was sent: the server ends typing by itself. */
  sent() {
    clearTimeout(this.timer);
    this.sentAt = 0;
  }
}

/** "Ada is typing…", "Ada, Bob are typing…" or ''. */
export function typingLine(names) {
  return names.length === 0 ? '' : `${names.join(', ')} ${names.length === 1 ? 'is' : 'are'} typing…`;
}
