import { Inject, Injectable } from '@nestjs/common';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { AppException } from '../../common/errors/app.exception';
import { ErrorCode } from '../../common/errors/error-code';
import { RateLimiter } from '../../common/rate-limit/rate-limiter.service';
import { APP_CONFIG, type AppConfig } from '../../config/app-config';
import type { Actor } from '../persistence/database.port';
import type { SentMessageDto } from './dto/message.dto';
import { MessagesRepository } from './messages.repository';

const SEND_WINDOW_MS = 10_000;

/**
 * The orchestrator of a send, for REST and sockets alike: checks the content and the sender's rate,
 * stores the message idempotently with the room's next seq, and reports every failure once.
 */
@Injectable()
export class MessageSenderService {
  constructor(
    @InjectPinoLogger(MessageSenderService.name) private readonly logger: PinoLogger,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly rateLimiter: RateLimiter,
    private readonly messages: MessagesRepository,
  ) {}

  async send(
    actor: Actor & { kind: 'user' },
    roomId: string,
    content: string,
    clientId?: string,
  ): Promise<SentMessageDto> {
    const started = performance.now();
    try {
      const text = this.checkContent(content);
      const rate = await this.rateLimiter.consume('send', actor.id, this.config.rates.sendPer10s, SEND_WINDOW_MS);
      if (!rate.allowed) {
        throw AppException.rateLimited(rate.retryAfterMs);
      }
      const result = await this.messages.post(actor, roomId, text, clientId ?? null);
      this.logger.debug(
        { roomId, seq: result.message.seq, duplicate: result.duplicate, durationMs: elapsed(started) },
        'message stored',
      );
      return result;
    } catch (error) {
      const code = error instanceof AppException ? error.code : ErrorCode.INTERNAL;
      this.logger.warn({ roomId, userId: actor.id, code, durationMs: elapsed(started) }, 'Message send failed');
      throw error;
    }
  }

  private checkContent(content: string): string {
    const text = content.trim();
    if (text.length === 0) {
      throw AppException.validation([{ field: 'content', message: 'must not be empty' }]);
    }
    if (text.length > this.config.messages.maxLength) {
      throw AppException.validation([
        { field: 'content', message: `must be at most ${this.config.messages.maxLength} characters` },
      ]);
    }
    return text;
  }
}

function elapsed(started: number): number {
  return Math.round(performance.now() - started);
}
