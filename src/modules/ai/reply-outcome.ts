import { BrokenCircuitError } from 'cockatiel';
import { AiProviderError } from './ai-provider.port';
import { AiFirstTokenTimeout, AiStreamTimeout } from './ai-resilience';
import type { StopReason } from './live-reply';

export interface ReplyOutcome {
  status: 'complete' | 'truncated' | 'failed' | 'cancelled';
  error?: { code: 'AI_UNAVAILABLE' | 'AI_RATE_LIMITED' | 'AI_TIMEOUT' | 'AI_FAILED'; message: string };
  /** A bug rather than a provider's answer: logged with its stack. */
  unexpected?: boolean;
}

/** The asker is over RATE_AI_PER_MINUTE. */
export class OverLimit extends Error {
  override readonly name = 'OverLimit';

  constructor(readonly retryAfterMs: number) {
    super('over the AI reply limit');
  }
}

/** OPENAI_API_KEY is not set. */
export class NotConfigured extends Error {
  override readonly name = 'NotConfigured';
}

const failed = (
  code: NonNullable<ReplyOutcome['error']>['code'],
  message: string,
  unexpected = false,
): ReplyOutcome => ({
  status: 'failed',
  error: { code, message },
  ...(unexpected ? { unexpected } : {}),
});

/** What a reply that did not end normally is stored as (PROTOCOL.md §5): its status and error code. */
export function failureOf(error: unknown, stopReason: StopReason | undefined): ReplyOutcome {
  if (stopReason === 'cancelled') {
    return { status: 'cancelled' };
  }
  if (stopReason === 'shutdown') {
    return failed('AI_FAILED', 'The server stopped while this reply was being written');
  }
  if (stopReason === 'lost') {
    return failed('AI_FAILED', 'The server writing this reply stopped');
  }
  if (error instanceof OverLimit) {
    return failed(
      'AI_RATE_LIMITED',
      `You asked for more AI replies than allowed; try again in ${Math.ceil(error.retryAfterMs / 1000)} s`,
    );
  }
  if (error instanceof NotConfigured) {
    return failed(
      'AI_UNAVAILABLE',
      'AI replies are not configured on this server: the operator must set OPENAI_API_KEY',
    );
  }
  if (error instanceof AiFirstTokenTimeout || error instanceof AiStreamTimeout) {
    return failed('AI_TIMEOUT', error.message);
  }
  if (error instanceof BrokenCircuitError) {
    return failed('AI_UNAVAILABLE', 'The AI provider is unavailable; try again in a moment');
  }
  if (error instanceof AiProviderError) {
    switch (error.kind) {
      case 'unavailable':
        return failed('AI_UNAVAILABLE', 'The AI provider is unavailable right now; try again later');
      case 'rate_limited':
        return failed('AI_RATE_LIMITED', 'The AI provider is rate limiting; try again later');
      case 'refused':
        return failed('AI_FAILED', 'The AI provider refused the request');
    }
  }
  return failed('AI_FAILED', 'The reply failed', true);
}
