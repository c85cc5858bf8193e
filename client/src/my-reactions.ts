import type { Message } from './protocol';

/**
 * The caller's own reactions, per message and emoji. A Message carries counts only (one payload for the whole room),
 * so "mine" is kept from the `message:reaction` deltas that name the caller and from the caller's own acks, each with
 * the rev of its change: an older one arriving late changes nothing.
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
