import { Inject, Injectable } from '@nestjs/common';
import OpenAI from 'openai';
import { APP_CONFIG, type AppConfig } from '../../config/app-config';
import { AiProviderError, type AiChunk, type AiProvider, type AiRequest } from './ai-provider.port';

/**
 * The AiProvider over the `openai` SDK: any OpenAI-compatible server (OpenAI, Ollama, vLLM, LM Studio).
 * The SDK's own retries are off: attempts, backoff and timeouts are the reply service's policies.
 */
@Injectable()
export class OpenAiProvider implements AiProvider {
  private readonly client?: OpenAI;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    if (config.ai.apiKey) {
      this.client = new OpenAI({
        apiKey: config.ai.apiKey,
        baseURL: config.ai.baseUrl,
        maxRetries: 0,
        timeout: config.ai.totalTimeoutMs,
      });
    }
  }

  get available(): boolean {
    return this.client !== undefined;
  }

  async *stream(request: AiRequest, signal: AbortSignal): AsyncIterable<AiChunk> {
    if (!this.client) {
      throw new AiProviderError('unavailable', 'No AI provider is configured: set OPENAI_API_KEY');
    }
    let stream;
    try {
      stream = await this.client.chat.completions.create(
        {
          model: request.model,
          messages: request.messages,
          max_tokens: request.maxOutputTokens,
          stream: true,
          stream_options: { include_usage: true },
        },
        { signal },
      );
    } catch (error) {
      throw classify(error);
    }
    try {
      for await (const chunk of stream) {
        const choice = chunk.choices[0];
        const text = choice?.delta?.content;
        if (text) {
          yield { type: 'text', text };
        }
        if (choice?.finish_reason) {
          yield { type: 'finish', reason: choice.finish_reason };
        }
        if (chunk.usage) {
          yield {
            type: 'usage',
            promptTokens: chunk.usage.prompt_tokens,
            completionTokens: chunk.usage.completion_tokens,
          };
        }
      }
    } catch (error) {
      throw classify(error);
    }
  }
}

/** Sorts an SDK or network error into what the reply service acts on. */
export function classify(error: unknown): unknown {
  if (error instanceof OpenAI.APIUserAbortError) {
    return error;
  }
  if (error instanceof OpenAI.APIError && typeof error.status === 'number') {
    if (error.status === 429) {
      return new AiProviderError(
        'rate_limited',
        'The AI provider is rate limiting',
        retryAfter(error.headers as Headers | undefined),
        {
          cause: error,
        },
      );
    }
    if (error.status >= 500 || error.status === 408) {
      return new AiProviderError('unavailable', `The AI provider answered ${error.status}`, undefined, {
        cause: error,
      });
    }
    return new AiProviderError('refused', `The AI provider refused the request (${error.status})`, undefined, {
      cause: error,
    });
  }
  // Network failures mid-stream come from undici (another realm under jest): match on the message.
  const message = typeof error === 'object' && error !== null && 'message' in error ? String(error.message) : '';
  if (error instanceof OpenAI.APIError || /terminated|ECONN|socket|fetch failed|network/i.test(message)) {
    return new AiProviderError('unavailable', 'The AI provider could not be reached', undefined, { cause: error });
  }
  return error;
}

function retryAfter(headers: Headers | undefined): number | undefined {
  const ms = Number(headers?.get('retry-after-ms'));
  if (Number.isFinite(ms) && ms > 0) {
    return ms;
  }
  const seconds = Number(headers?.get('retry-after'));
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : undefined;
}
