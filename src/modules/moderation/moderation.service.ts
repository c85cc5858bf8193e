import { Inject, Injectable } from '@nestjs/common';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import OpenAI from 'openai';
import { APP_CONFIG, type AppConfig, type ModerationConfig } from '../../config/app-config';
import { MetricsService } from '../metrics/metrics.service';

/** What the provider said of one text: `categories` are the names it returned true (`['harassment', 'violence']`). */
export interface ModerationVerdict {
  flagged: boolean;
  categories: string[];
}

/** No verdict could be had: moderation is off, or the provider failed, timed out or answered something unreadable. */
export class ModerationUnavailableError extends Error {
  override readonly name = 'ModerationUnavailableError';
}

/**
 * Checks text with the provider's moderation endpoint over the `openai` SDK (OPENAI_API_KEY, OPENAI_BASE_URL). One
 * call per check, no retry: what to do without a verdict (fail open, or hold and check again every `retryMs`) is the
 * caller's policy. The text is never logged.
 */
@Injectable()
export class ModerationService {
  private readonly config: ModerationConfig;
  private readonly client?: OpenAI;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    @InjectPinoLogger(ModerationService.name) private readonly logger: PinoLogger,
    private readonly metrics: MetricsService,
  ) {
    this.config = config.moderation;
    if (config.moderation.enabled && config.ai.apiKey) {
      this.client = new OpenAI({
        apiKey: config.ai.apiKey,
        baseURL: config.ai.baseUrl,
        maxRetries: 0,
        timeout: config.moderation.timeoutMs,
      });
    }
  }

  get enabled(): boolean {
    return this.client !== undefined;
  }

  get mode(): ModerationConfig['mode'] {
    return this.config.mode;
  }

  get failOpen(): boolean {
    return this.config.failOpen;
  }

  get retryMs(): number {
    return this.config.retryMs;
  }

  /** Throws ModerationUnavailableError on any failure: HTTP error, timeout (MODERATION_TIMEOUT_MS), bad answer. */
  async check(text: string): Promise<ModerationVerdict> {
    if (!this.client) {
      throw new ModerationUnavailableError('Moderation is off (MODERATION=off)');
    }
    const started = performance.now();
    let verdict: ModerationVerdict;
    try {
      const answer = await this.client.moderations.create(
        { model: this.config.model, input: text },
        // The SDK's timeout ends at the headers; this signal bounds the body too.
        { signal: AbortSignal.timeout(this.config.timeoutMs) },
      );
      verdict = verdictOf(answer);
    } catch (error) {
      const reason = reasonOf(error, this.config.timeoutMs);
      const durationMs = Math.round(performance.now() - started);
      this.metrics.moderationChecks.inc({ outcome: 'unavailable' });
      // The reason is ours, never the error's message or body, which could quote the text.
      this.logger.warn({ reason, durationMs }, 'moderation check unavailable');
      throw new ModerationUnavailableError(`Moderation unavailable: ${reason}`, { cause: error });
    }
    this.metrics.moderationChecks.inc({ outcome: verdict.flagged ? 'flagged' : 'passed' });
    return verdict;
  }
}

class BadAnswer extends Error {}

function verdictOf(answer: OpenAI.ModerationCreateResponse): ModerationVerdict {
  const result: unknown = Array.isArray(answer?.results) ? answer.results[0] : undefined;
  if (typeof result !== 'object' || result === null) {
    throw new BadAnswer('no result');
  }
  const { flagged, categories } = result as { flagged?: unknown; categories?: unknown };
  if (typeof flagged !== 'boolean' || typeof categories !== 'object' || categories === null) {
    throw new BadAnswer('no flagged or categories in the result');
  }
  return {
    flagged,
    categories: Object.entries(categories)
      .filter(([, value]) => value === true)
      .map(([name]) => name),
  };
}

/** Why a check failed, in words of our own (no text from the request or the answer). */
function reasonOf(error: unknown, timeoutMs: number): string {
  if (error instanceof BadAnswer) {
    return `unexpected answer: ${error.message}`;
  }
  if (error instanceof OpenAI.APIUserAbortError || error instanceof OpenAI.APIConnectionTimeoutError) {
    return `no answer within ${timeoutMs} ms`;
  }
  if (error instanceof OpenAI.APIError && typeof error.status === 'number') {
    return `the provider answered ${error.status}`;
  }
  if (error instanceof OpenAI.APIConnectionError) {
    return 'the provider could not be reached';
  }
  if (error instanceof SyntaxError) {
    return 'unexpected answer: not JSON';
  }
  return 'unexpected error';
}
