import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { toMessage, type MessageDto, type MessageRow } from '../../common/messages/message';
import { REALTIME_BROADCASTER, type RealtimeBroadcaster } from '../../common/realtime/realtime-broadcaster';
import { DATABASE, SERVICE_ACTOR, type Database } from '../persistence/database.port';
import { ModerationService, ModerationUnavailableError } from './moderation.service';

/** How a text is stored when moderation withholds it as it is stored (pre-moderation). */
export interface Withhold {
  reason: 'flagged' | 'pending';
  categories: string[];
}

type Verdict = 'flagged' | 'pending' | 'passed';

/** Messages held while moderation was away that one sweep checks again. */
const SWEEP_BATCH = 50;

/**
 * What moderation does to messages (PROTOCOL.md §3 "Moderation"), with MODERATION=openai:
 * - `pre`: a user's send or edit is checked before it is stored (`beforeStore`); flagged, it is stored withheld.
 * - `post` (and every assistant reply when it ends, in either mode): the stored message is checked right after
 *   (`afterStore`); flagged, it is withheld by a change (`message:updated` with the placeholder, a new rev).
 * Without a verdict (the provider is down or slow) MODERATION_FAIL_OPEN decides: open, the text stays; closed, it is
 * held as `pending` (stored, readable by its author and the room's owner) and checked again every
 * MODERATION_RETRY_MS until a verdict releases or flags it. Nothing is ever dropped. The author hears
 * `message:withheld` with the categories.
 */
@Injectable()
export class ContentModerator implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly inFlight = new Set<Promise<void>>();
  private sweepTimer?: NodeJS.Timeout;
  private sweeping = false;

  constructor(
    @InjectPinoLogger(ContentModerator.name) private readonly logger: PinoLogger,
    private readonly moderation: ModerationService,
    @Inject(DATABASE) private readonly db: Database,
    @Inject(REALTIME_BROADCASTER) private readonly broadcaster: RealtimeBroadcaster,
  ) {}

  onApplicationBootstrap(): void {
    if (this.moderation.enabled && !this.moderation.failOpen) {
      this.sweepTimer = setInterval(() => void this.sweep(), this.moderation.retryMs).unref();
    }
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.sweepTimer);
    await Promise.allSettled([...this.inFlight]);
  }

  /** Pre-moderation: how to store a user's text (undefined: as it is). Post-moderation and off: as it is. */
  async beforeStore(text: string): Promise<Withhold | undefined> {
    if (!this.moderation.enabled || this.moderation.mode !== 'pre') {
      return undefined;
    }
    const verdict = await this.verdictOf(text);
    return verdict.verdict === 'passed' ? undefined : { reason: verdict.verdict, categories: verdict.categories };
  }

  /**
   * A message stored and sent. Withheld as it was stored (`withhold`, from `beforeStore`): its author hears why.
   * Otherwise checked in the background (a user's in post mode, an assistant reply's in either), and withheld when
   * flagged. Never throws; a failure is logged.
   */
  afterStore(message: MessageDto, withhold?: Withhold): void {
    if (withhold && message.withheld) {
      this.told(message, withhold);
      return;
    }
    const checked =
      this.moderation.enabled &&
      !message.withheld &&
      !message.deletedAt &&
      message.content !== '' &&
      (message.role === 'assistant' || (message.role === 'user' && this.moderation.mode === 'post'));
    if (!checked) {
      return;
    }
    const done = this.verdictOf(message.content)
      .then(({ verdict, categories }) =>
        verdict === 'passed' ? undefined : this.apply(message.id, message.content, verdict, categories),
      )
      .catch((error: unknown) => this.logger.error({ err: error, messageId: message.id }, 'moderation not applied'))
      .finally(() => this.inFlight.delete(done));
    this.inFlight.add(done);
  }

  /** The author's sockets hear why one of their messages was withheld. */
  private told(message: MessageDto, withhold: Withhold): void {
    if (message.senderId) {
      this.broadcaster.toUser(message.senderId, 'message:withheld', {
        roomId: message.roomId,
        messageId: message.id,
        seq: message.seq,
        reason: withhold.reason,
        categories: withhold.categories,
      });
    }
  }

  /** The provider's verdict, or what MODERATION_FAIL_OPEN makes of its absence. */
  private async verdictOf(text: string): Promise<{ verdict: Verdict; categories: string[] }> {
    try {
      const result = await this.moderation.check(text);
      return { verdict: result.flagged ? 'flagged' : 'passed', categories: result.categories };
    } catch (error) {
      if (!(error instanceof ModerationUnavailableError)) {
        throw error;
      }
      return { verdict: this.moderation.failOpen ? 'passed' : 'pending', categories: [] };
    }
  }

  /** Stores a verdict on a stored message and tells the room (a placeholder), and the author why. */
  private async apply(messageId: string, checked: string, verdict: Verdict, categories: string[]): Promise<void> {
    const [row] = await this.db.call<{ changed: boolean; room_last_seq: number; message: MessageRow }>(
      SERVICE_ACTOR,
      'moderation_verdict',
      { p_message_id: messageId, p_checked: checked, p_verdict: verdict, p_categories: categories },
    );
    if (!row?.changed) {
      return;
    }
    // The author's copy (with its text): the room gets it as its placeholder when withheld.
    const message = toMessage(row.message);
    this.broadcaster.messageChanged(message, Number(row.room_last_seq));
    if (verdict === 'passed') {
      return;
    }
    this.told(message, { reason: verdict, categories });
    this.logger.info({ roomId: message.roomId, messageId, verdict, categories }, 'message withheld by moderation');
  }

  /** Checks the messages held while moderation was away again: a verdict releases or flags each; none keeps it. */
  private async sweep(): Promise<void> {
    if (this.sweeping) {
      return;
    }
    this.sweeping = true;
    try {
      const held = await this.db.call<{ message_id: string; content: string }>(SERVICE_ACTOR, 'moderation_pending', {
        p_limit: SWEEP_BATCH,
      });
      for (const { message_id: messageId, content } of held) {
        const result = await this.moderation.check(content);
        await this.apply(messageId, content, result.flagged ? 'flagged' : 'passed', result.categories);
      }
    } catch (error) {
      if (!(error instanceof ModerationUnavailableError)) {
        this.logger.warn({ err: error }, 'held messages not checked again');
      }
    } finally {
      this.sweeping = false;
    }
  }
}
