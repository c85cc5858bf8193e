import type { Message } from '../../client/src';
import { button, el } from './dom';

/** The answers to a question held, in version order (the same order as the SDK's `room.versionsOf`). */
type Answers = readonly Message[];

const byVersion = (a: Message, b: Message): number => (a.version ?? 0) - (b.version ?? 0) || a.seq - b.seq;

/**
 * One answer per question on screen: when a question has several (Regenerate, an edit's rerun), the list shows one
 * of them, the newest unless the reader paged to another, where the first answer stands, with a pager "‹ 2/3 ›".
 * A new answer arriving shows the newest again.
 */
export class VersionsView {
  private answers = new Map<string, Answers>();
  /** Per question: the answer the reader paged to, and how many there were then. */
  private readonly chosen = new Map<string, { id: string; count: number }>();

  constructor(private readonly changed: () => void) {}

  /** Forgets the pages chosen (another room). */
  reset(): void {
    this.chosen.clear();
    this.answers.clear();
  }

  /** The messages to list (seq order): of each question's answers, the one chosen, in the first answer's place. */
  arrange(messages: readonly Message[]): Message[] {
    const answers = new Map<string, Message[]>();
    for (const message of messages) {
      const question = questionOf(message);
      if (question) {
        answers.set(question, [...(answers.get(question) ?? []), message]);
      }
    }
    answers.forEach((list) => list.sort(byVersion));
    this.answers = answers;
    const shown: Message[] = [];
    const placed = new Set<string>();
    for (const message of messages) {
      const question = questionOf(message);
      const list = question ? answers.get(question) : undefined;
      if (!question || !list || list.length < 2) {
        shown.push(message);
      } else if (!placed.has(question)) {
        placed.add(question);
        shown.push(this.shownOf(question, list));
      }
    }
    return shown;
  }

  /** What the pager of a listed message shows ('' without one): part of its item's key. */
  key(message: Message): string {
    const place = this.placeOf(message);
    return place ? `${place.index + 1}/${place.list.length}` : '';
  }

  /** The pager of an answer among several: ‹ previous, "n/count", next ›. */
  pager(message: Message): HTMLElement[] {
    const place = this.placeOf(message);
    if (!place) {
      return [];
    }
    const { question, list, index } = place;
    const go = (to: number) => () => {
      this.chosen.set(question, { id: list[to].id, count: list.length });
      this.changed();
    };
    const previous = button('‹', 'small secondary', go(index - 1), 'Previous answer');
    const next = button('›', 'small secondary', go(index + 1), 'Next answer');
    previous.disabled = index === 0;
    next.disabled = index === list.length - 1;
    const position = el('span', 'pager-position', `${index + 1}/${list.length}`);
    position.setAttribute('aria-label', `Answer ${index + 1} of ${list.length}`);
    const pager = el('span', 'pager');
    pager.append(previous, position, next);
    return [pager];
  }

  private shownOf(question: string, list: Answers): Message {
    const chosen = this.chosen.get(question);
    const picked = chosen?.count === list.length ? list.find((m) => m.id === chosen.id) : undefined;
    return picked ?? list[list.length - 1];
  }

  private placeOf(message: Message): { question: string; list: Answers; index: number } | undefined {
    const question = questionOf(message);
    const list = question ? this.answers.get(question) : undefined;
    if (!question || !list || list.length < 2) {
      return undefined;
    }
    return { question, list, index: list.indexOf(message) };
  }
}

function questionOf(message: Message): string | null {
  return message.role === 'assistant' ? message.replyToId : null;
}
