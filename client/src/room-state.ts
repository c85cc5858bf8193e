import { MessageWindow, type NewOutcome, type PageOptions } from './message-window';
import { MyReactions, withCount } from './my-reactions';
import type { Message, RoomEvents } from './protocol';
import { RevCursor } from './rev-cursor';

export type { DeltaOutcome, NewOutcome, PageOptions } from './message-window';

/**
 * One room's state: its messages (a window gapless by seq, each in its latest state), the room's change feed followed
 * by `rev` (`lastRev`, `hasRevGap`), the caller's own reactions (`myReactions`), the answers to each question
 * (`versionsOf`), presence and typing. Pure state: it never talks to the server, it says when the client must (a gap
 * in seq or rev, a missed delta).
 */
export class RoomState extends MessageWindow {
  private readonly revs = new RevCursor();
  private readonly mine = new MyReactions();
  readonly online = new Set<string>();
  readonly typing = new Set<string>();

  constructor(readonly roomId: string) {
    super();
  }

  /** The rev up to which every change of the room is held: the `afterRev` to resume with. */
  get lastRev(): number {
    return this.revs.rev;
  }

  /** Whether the room's rev is known (resume with `afterRev`) rather than only its seqs. */
  get followsRev(): boolean {
    return this.revs.isKnown;
  }

  /** A change's rev came more than one above `lastRev`: catch up with `afterRev = lastRev`. */
  get hasRevGap(): boolean {
    return this.revs.hasGap;
  }

  /**
   * The emoji the caller reacted with on a message: from what it read (the messages' `myReactions`, which the held
   * messages do not keep: live broadcasts would leave it stale), live deltas and the caller's own calls.
   */
  myReactions(messageId: string): ReadonlySet<string> {
    return this.mine.of(messageId);
  }

  /**
   * The answers held to a question (the assistant messages whose `replyToId` is `questionId`), in `version` order:
   * the versions a UI pages between. Answers older than the oldest message held come with `loadOlder`.
   */
  versionsOf(questionId: string): Message[] {
    return this.messages
      .filter((m) => m.role === 'assistant' && m.replyToId === questionId)
      .sort((a, b) => (a.version ?? 0) - (b.version ?? 0) || a.seq - b.seq);
  }

  /** A page the caller read (a join ack, the feed, an older page): each message's `myReactions` becomes "mine". */
  override mergePage(messages: readonly Message[], options?: PageOptions): void {
    let mineChanged = false;
    const held = messages.map((message) => {
      const { myReactions, ...rest } = message;
      if (!message.deletedAt) {
        mineChanged = this.mine.replace(message.id, myReactions ?? [], message.rev ?? 0) || mineChanged;
      }
      return myReactions ? rest : message;
    });
    super.mergePage(held, options);
    if (mineChanged) {
      this.publish(true); // "mine" may be all that changed
    }
  }

  /** Every change up to `rev` is held (the room's `lastRev` in a join ack, a changes page's). */
  settleRev(rev: number | null | undefined): void {
    this.revs.settle(rev);
  }

  /** A live `message:new` (`live` false: the caller's own send's ack, whose rev its event brings). */
  applyNew(message: Message, live = true): NewOutcome {
    const rev = live ? this.revs.observe(message.rev) : 'held';
    const outcome = this.takeNew(message);
    return rev === 'gap' ? 'gap' : outcome;
  }

  /** A live `message:updated` (a reply's final state, an edit, a delete, or any later change). */
  applyUpdated(message: Message): NewOutcome {
    const rev = this.revs.observe(message.rev);
    const outcome = this.takeUpdated(message);
    return rev === 'gap' ? 'gap' : outcome;
  }

  /** A live `message:reaction`: the emoji's count on the message held, and "mine" when `myId` reacted. */
  applyReaction(event: RoomEvents['message:reaction'], myId: string | undefined): NewOutcome {
    const seq = this.seqOf.get(event.messageId);
    const message = seq === undefined ? undefined : this.held.get(seq);
    let changed = false;
    if (seq !== undefined && message && !message.deletedAt && (message.rev ?? 0) < event.rev) {
      this.held.set(seq, withCount(message, event.emoji, event.count, event.rev));
      changed = true;
    }
    if (event.profileId === myId) {
      changed = this.mine.set(event.messageId, event.emoji, event.added, event.rev) || changed;
    }
    const rev = this.revs.observe(event.rev);
    if (changed) {
      this.publish(true); // "mine" may be all that changed
    }
    return rev === 'gap' ? 'gap' : changed ? 'added' : 'duplicate';
  }

  /**
   * The ack of the caller's own edit, delete or reaction: the message as it is now (its event brings the rev to the
   * feed), and for a reaction whether the caller now has it.
   */
  applyOwn(message: Message, reaction?: { emoji: string; mine: boolean }): boolean {
    let changed = this.held.has(message.seq) && this.put(message);
    if (reaction && message.rev !== undefined) {
      changed = this.mine.set(message.id, reaction.emoji, reaction.mine, message.rev) || changed;
    }
    if (changed) {
      this.publish(true); // "mine" may be all that changed
    }
    return changed;
  }

  /** The join ack's `online` list: who is in the room now. */
  setOnline(profileIds: readonly string[]): void {
    this.online.clear();
    profileIds.forEach((id) => this.online.add(id));
  }

  applyPresence(event: RoomEvents['presence']): void {
    if (event.online) {
      this.online.add(event.profileId);
    } else {
      this.online.delete(event.profileId);
      this.typing.delete(event.profileId);
    }
  }

  applyTyping(event: RoomEvents['typing']): void {
    if (event.isTyping) {
      this.typing.add(event.profileId);
    } else {
      this.typing.delete(event.profileId);
    }
  }

  /** A tombstone takes the caller's reactions with it. */
  protected override put(message: Message, reread = false): boolean {
    const taken = super.put(message, reread);
    if (taken && message.deletedAt) {
      this.mine.forget(message.id);
    }
    return taken;
  }
}
