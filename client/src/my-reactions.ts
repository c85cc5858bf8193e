import type { Message } from './protocol';

/**
 * The caller's own reactions, per message and emoji, each with the rev of the change that said so: an older one
 * arriving late changes nothing. From what the caller reads (a message's `myReactions` in pages, the change feed and
 * join backlogs: all of its own at the message's rev), from the `message:reaction` deltas that name the caller (a
 * broadcast Message carries counts only), and from the caller's own acks.
 */
export class MyReactions {
  private readonly byMessage = new Map<string, Map<string, { mine: boolean; rev: number }>>();

  /** The emoji the caller reacted with on this message (as far as this client has seen). */
  of(messageId: string): ReadonlySet<string> {
    const emoji = new Set<string>();
    for (const [key, state] of this.byMessage.get(messageId) ?? []) {
      if (state.mine) {
        emoji.add(key);
      }
    }
    return emoji;
  }

  /** Whether the caller has `emoji` on the message as of `rev`; true when that changed what is held. */
  set(messageId: string, emoji: string, mine: boolean, rev: number): boolean {
    let states = this.byMessage.get(messageId);
    if (!states) {
      states = new Map();
      this.byMessage.set(messageId, states);
    }
    const current = states.get(emoji);
    if (current && current.rev > rev) {
      return false;
    }
    states.set(emoji, { mine, rev });
    return current?.mine !== mine && (mine || current !== undefined);
  }

  /**
   * What a read says: the caller's emoji on the message as of `rev` are exactly `emoji`. Replaces what was held, but
   * not a change newer than `rev` (a delta that came before the page did). True when that changed what is held.
   */
  replace(messageId: string, emoji: readonly string[], rev: number): boolean {
    let changed = false;
    for (const held of this.byMessage.get(messageId)?.keys() ?? []) {
      if (!emoji.includes(held)) {
        changed = this.set(messageId, held, false, rev) || changed;
      }
    }
    for (const mine of emoji) {
      changed = this.set(messageId, mine, true, rev) || changed;
    }
    return changed;
  }

  /** A deleted message has no reactions left. */
  forget(messageId: string): boolean {
    return this.byMessage.delete(messageId);
  }
}

/** The message with one emoji's count as a reaction delta gives it, at the delta's rev. */
export function withCount(message: Message, emoji: string, count: number, rev: number): Message {
  const reactions = { ...message.reactions };
  if (count > 0) {
    reactions[emoji] = count;
  } else {
    delete reactions[emoji];
  }
  const next: Message = { ...message, reactions, rev };
  if (Object.keys(reactions).length === 0) {
    delete next.reactions;
  }
  return next;
}
