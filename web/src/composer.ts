import { byId } from './dom';

/** MESSAGE_MAX_LENGTH's default (PROTOCOL.md "Rules for content"): counted after trimming, in UTF-16 units. */
export const MAX_LENGTH = 4000;
const TYPING_IDLE_MS = 3000;

export interface ComposerHooks {
  send(text: string): void;
  typing(isTyping: boolean): void;
}

/**
 * The composer: a character counter, Enter to send (Shift+Enter for a new line), typing updates, and what is written
 * kept whenever it is not sent (too long, nothing to send).
 */
export class Composer {
  private readonly form = byId<HTMLFormElement>('composer');
  private readonly input = byId<HTMLTextAreaElement>('composer-input');
  private readonly counter = byId('counter');
  private readonly error = byId('composer-error');
  private typingSince?: number;
  private idle?: number;

  constructor(private readonly hooks: ComposerHooks) {
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.submit();
    });
    this.input.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.submit();
      }
    });
    this.input.addEventListener('input', () => {
      this.update();
      this.noteTyping();
    });
    this.update();
  }

  /** Puts text back into the composer (a refused send to edit). */
  fill(text: string): void {
    this.input.value = text;
    this.update();
    this.input.focus();
  }

  clear(): void {
    this.input.value = '';
    this.stopTyping();
    this.update();
  }

  private submit(): void {
    const text = this.input.value.trim();
    if (!text) {
      return;
    }
    if (text.length > MAX_LENGTH) {
      this.showError(
        `Too long to send: ${text.length.toLocaleString('en')} characters, at most ${MAX_LENGTH.toLocaleString('en')}. Shorten it and send again.`,
      );
      return;
    }
    this.hooks.send(text);
    this.clear();
  }

  private update(): void {
    const length = this.input.value.trim().length;
    this.counter.textContent = `${length.toLocaleString('en')} / ${MAX_LENGTH.toLocaleString('en')}`;
    this.counter.classList.toggle('over', length > MAX_LENGTH);
    this.counter.hidden = length < MAX_LENGTH * 0.8;
    if (length <= MAX_LENGTH) {
      this.error.hidden = true;
    }
  }

  private showError(text: string): void {
    this.error.textContent = text;
    this.error.hidden = false;
  }

  private noteTyping(): void {
    if (this.typingSince === undefined) {
      this.typingSince = Date.now();
      this.hooks.typing(true);
    }
    window.clearTimeout(this.idle);
    this.idle = window.setTimeout(() => this.stopTyping(), TYPING_IDLE_MS);
  }

  private stopTyping(): void {
    window.clearTimeout(this.idle);
    if (this.typingSince !== undefined) {
      this.typingSince = undefined;
      this.hooks.typing(false);
    }
  }
}
