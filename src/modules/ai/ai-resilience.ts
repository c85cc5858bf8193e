import {
  ConsecutiveBreaker,
  DelegateBackoff,
  circuitBreaker,
  handleWhen,
  retry,
  type CircuitBreakerPolicy,
  type RetryPolicy,
} from 'cockatiel';
import { AiProviderError } from './ai-provider.port';

/** No first token in time: the attempt is given up (and may be retried). */
export class AiFirstTokenTimeout extends Error {
  override readonly name = 'AiFirstTokenTimeout';
}

/** The stream stalled or ran past the total limit after it had started: never retried. */
export class AiStreamTimeout extends Error {
  override readonly name = 'AiStreamTimeout';
}

/** Consecutive failed calls that open the breaker: a sustained outage, not one failed reply. */
export const BREAKER_THRESHOLD = 5;
/** How long the breaker stays open before it lets one call through to probe. */
export const BREAKER_HALF_OPEN_AFTER_MS = 15_000;
const BACKOFF_BASE_MS = 250;
const BACKOFF_MAX_MS = 4000;
/** The most a provider's Retry-After is waited for within a reply. */
export const RETRY_AFTER_CAP_MS = 10_000;

const isOutage = (error: Error): boolean =>
  error instanceof AiFirstTokenTimeout || (error instanceof AiProviderError && error.kind === 'unavailable');

const isTransient = (error: Error): boolean =>
  isOutage(error) || (error instanceof AiProviderError && error.kind === 'rate_limited');

export interface AiPolicies {
  retry: RetryPolicy;
  breaker: CircuitBreakerPolicy;
}

/**
 * Attempts with exponential backoff and full jitter on transient failures, the provider's Retry-After
 * honoured (capped); a breaker that opens on a sustained outage and half-opens to probe.
 */
export function createAiPolicies(maxAttempts: number): AiPolicies {
  const backoff = new DelegateBackoff<{ attempt: number; result: { error: Error } | { value: unknown } }>((context) => {
    const error = 'error' in context.result ? context.result.error : undefined;
    if (error instanceof AiProviderError && error.retryAfterMs !== undefined) {
      return Math.min(error.retryAfterMs, RETRY_AFTER_CAP_MS);
    }
    const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (context.attempt - 1));
    return ceiling / 2 + Math.random() * (ceiling / 2);
  });
  return {
    retry: retry(handleWhen(isTransient), { maxAttempts: maxAttempts - 1, backoff }),
    breaker: circuitBreaker(handleWhen(isOutage), {
      halfOpenAfter: BREAKER_HALF_OPEN_AFTER_MS,
      breaker: new ConsecutiveBreaker(BREAKER_THRESHOLD),
    }),
  };
}
