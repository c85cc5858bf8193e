import { Inject, Injectable } from '@nestjs/common';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { AppException } from '../../common/errors/app.exception';
import { ErrorCode } from '../../common/errors/error-code';
import { RateLimiter } from '../../common/rate-limit/rate-limiter.service';
import { APP_CONFIG, type AppConfig } from '../../config/app-config';
import { REALTIME_BROADCASTER, type RealtimeBroadcaster } from '../../common/realtime/realtime-broadcaster';
import { AiReplyService } from '../ai/ai-reply.service';
import { ContentModerator } from '../moderation/content-moderator.service';
import { MetricsService } from '../metrics/metrics.service';
import type { UserActor } from '../persistence/database.port';
import type { MessageDto, SentMessageDto } from './dto/message.dto';
import type { AiMode } from '../ai/mentions';
import { checkedContent } from './message-content';
import { MessagesRepository } from './messages.repository';
import { TypingService } from './realtime/typing.service';

const SEND_WINDOW_MS = 10_000;

/**
 * The orchestrator of a send, for REST and sockets alike: checks the content and the sender's rate,
 * stores the message idempotently with the room's next seq, ends the sender's typing, broadcasts
 * `message:new` to the room, and reports every failure once.
 */
@Injectable()
export class MessageSenderService {
  constructor(
    @InjectPinoLogger(MessageSenderService.name) private readonly logger: PinoLogger,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly rateLimiter: RateLimiter,
    private readonly messages: MessagesRepository,
    @Inject(REALTIME_BROADCASTER) private readonly broadcaster: RealtimeBroadcaster,
    private readonly typing: TypingService,
    private readonly metrics: MetricsService,
    private readonly aiReplies: AiReplyService,
    private readonly moderator: ContentModerator,
  ) {}

  async send(
    actor: UserActor,
    roomId: string,
    content: string,
    clientId: string | undefined,
    transport: 'http' | 'socket',
  ): Promise<SentMessageDto> {
    const started = performance.now();
    try {
      const text = checkedContent(content, this.config.messages.maxLength);
      const rate = await this.rateLimiter.consume('send', actor.id, this.config.rates.sendPer10s, SEND_WINDOW_MS);
      if (!rate.allowed) {
        // A retry of a send that was stored is answered as the duplicate it is, even over the limit; looking
        // it up has a budget of its own (as many as the send limit), so a flood of sends over the limit
        // never reaches the database.
        const lookup = clientId
          ? await this.rateLimiter.consume('send-retry', actor.id, this.config.rates.sendPer10s, SEND_WINDOW_MS)
          : undefined;
        const stored = lookup?.allowed && clientId ? await this.messages.findMine(actor, roomId, clientId) : undefined;
        if (stored) {
          this.metrics.messageSends.inc({ transport, outcome: 'duplicate' });
          return { message: stored, duplicate: true };
        }
        throw AppException.rateLimited(rate.retryAfterMs);
      }
      const withhold = await this.moderator.beforeStore(text);
      const { roomAiMode, pushCandidates, ...result } = await this.messages.post(
        actor,
        roomId,
        text,
        clientId ?? null,
        withhold,
      );
      // A repeat (a retried send) stored nothing, so it tells nobody anything new and asks for no reply.
      if (!result.duplicate) {
        await this.typing.stop(roomId, actor.id);
        const { message } = result;
        // Withheld as it was stored: the room gets the placeholder, the author the text (the answer) and why.
        this.broadcaster.toRoomInOrder(roomId, message.seq, 'message:new', { message }, { pushCandidates });
        this.moderator.afterStore(message, withhold);
        // A withheld question is no question for the assistant (it could not read it either).
        if (roomAiMode && !message.withheld) {
          await this.askForReply(actor, message, roomAiMode);
        }
      }
      this.metrics.messageSends.inc({ transport, outcome: result.duplicate ? 'duplicate' : 'stored' });
      // Asked of the root logger: asking the event's own would make it (socket-event-runner.service.ts). Without a
      // root (a logger given by hand), it is logged.
      if (PinoLogger.root?.isLevelEnabled('debug') ?? true) {
        this.logger.debug(
          { roomId, seq: result.message.seq, duplicate: result.duplicate, durationMs: elapsed(started) },
          'message stored',
        );
      }
      return result;
    } catch (error) {
      const code = error instanceof AppException ? error.code : ErrorCode.INTERNAL;
      this.metrics.messageSends.inc({ transport, outcome: code });
      this.logger.warn({ roomId, userId: actor.id, code, durationMs: elapsed(started) }, 'Message send failed');
      throw error;
    }
  }

  /** The message is stored and sent whatever becomes of its reply: a failure here is only logged. */
  private async askForReply(actor: UserActor, message: MessageDto, mode: AiMode): Promise<void> {
    try {
      await this.aiReplies.consider(actor.id, message, mode);
    } catch (error) {
      this.logger.error({ err: error, roomId: message.roomId, messageId: message.id }, 'AI reply not queued');
    }
  }
}

function elapsed(started: number): number {
  return Math.round(performance.now() - started);
}
