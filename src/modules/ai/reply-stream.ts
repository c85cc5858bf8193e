import { beforeDeadline } from '../../common/async/before-deadline';
import type { AiChunk, AiProvider, AiRequest } from './ai-provider.port';
import { AiFirstTokenTimeout, AiStreamTimeout, type AiPolicies } from './ai-resilience';
import type { LiveReply } from './live-reply';
import type { ReplyOutcome } from './reply-outcome';

export interface StreamOptions {
  firstTokenTimeoutMs: number;
  stallTimeoutMs: number;
  totalTimeoutMs: number;
  /** Called after each piece of text (checkpoints). */
  onText(): void;
}

/** What the `AI API call` log line reports of one reply. */
export interface StreamStats {
  attempts: number;
  timeToFirstTokenMs?: number;
  usage?: { promptTokens: number; completionTokens: number };
}

interface OpenStream {
  iterator: AsyncIterator<AiChunk>;
  first: IteratorResult<AiChunk>;
  abort(): void;
}

/**
 * Streams one reply into `reply`: attempts (through the retry policy and the breaker) only until the
 * first chunk arrives; after it, a stall or the total limit ends the reply with what it has.
 * Resolves with the normal outcome (complete / truncated / cancelled); throws anything else.
 */
export async function streamReply(
  provider: AiProvider,
  request: AiRequest,
  reply: LiveReply,
  policies: AiPolicies,
  options: StreamOptions,
  stats: StreamStats,
): Promise<ReplyOutcome> {
  const started = performance.now();
  const deadline = started + options.totalTimeoutMs;
  const remaining = (limit: number) => Math.min(limit, deadline - performance.now());
  const signal = reply.controller.signal;
  const stream = await policies.retry.execute(() => {
    stats.attempts += 1;
    return policies.breaker.execute(() => open(provider, request, signal, remaining(options.firstTokenTimeoutMs)));
  }, signal);
  stats.timeToFirstTokenMs = Math.round(performance.now() - started);
  let finishReason: string | undefined;
  try {
    for (let next = stream.first; !next.done;) {
      const chunk = next.value;
      if (chunk.type === 'text') {
        reply.append(chunk.text);
        options.onText();
      } else if (chunk.type === 'finish') {
        finishReason = chunk.reason;
      } else {
        stats.usage = { promptTokens: chunk.promptTokens, completionTokens: chunk.completionTokens };
      }
      const stall = remaining(options.stallTimeoutMs);
      next = await beforeDeadline(stream.iterator.next(), stall, () => {
        stream.abort();
        throw new AiStreamTimeout(
          stall < options.stallTimeoutMs
            ? 'The reply took longer than the time allowed'
            : 'The AI provider stopped sending in the middle of the reply',
        );
      });
    }
  } catch (error) {
    stream.abort();
    if (!reply.stopReason) {
      throw error;
    }
  }
  if (reply.stopReason === 'cancelled') {
    return { status: 'cancelled' };
  }
  if (reply.stopReason) {
    throw new Error(`stopped: ${reply.stopReason}`);
  }
  // Only a provider that said it finished gave a whole reply; a cut-off or an unexplained end keeps its text as truncated.
  return { status: finishReason === 'stop' ? 'complete' : 'truncated' };
}

/** Opens the provider stream and waits for its first chunk, within the first-token limit. */
async function open(
  provider: AiProvider,
  request: AiRequest,
  parent: AbortSignal,
  timeoutMs: number,
): Promise<OpenStream> {
  const controller = new AbortController();
  const onStop = () => controller.abort(parent.reason);
  parent.addEventListener('abort', onStop, { once: true });
  const abort = () => {
    parent.removeEventListener('abort', onStop);
    controller.abort();
  };
  const iterator = provider.stream(request, controller.signal)[Symbol.asyncIterator]();
  try {
    const first = await beforeDeadline(iterator.next(), timeoutMs, () => {
      abort();
      throw new AiFirstTokenTimeout('The AI provider did not start answering in time');
    });
    return { iterator, first, abort };
  } catch (error) {
    abort();
    throw error;
  }
}
