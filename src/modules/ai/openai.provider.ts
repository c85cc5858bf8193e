import { Inject, Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { createServer } from 'node:http';
import { type AddressInfo } from 'node:net';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import OpenAI from 'openai';
import { APP_CONFIG, type AppConfig } from '../../config/app-config';
import { AiProviderError, type AiChunk, type AiProvider, type AiRequest } from './ai-provider.port';

/**
 * The AiProvider over the `openai` SDK: any OpenAI-compatible server (OpenAI, Ollama, vLLM, LM Studio).
 * The SDK's own retries are off: attempts, backoff and timeouts are the reply service's policies.
 */
@Injectable()
export class OpenAiProvider implements AiProvider, OnApplicationBootstrap {
  private readonly client?: OpenAI;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    @InjectPinoLogger(OpenAiProvider.name) private readonly logger: PinoLogger,
  ) {
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

  /**
   * Node compiles its HTTP client (undici, its parser) and the SDK its streaming path on first use: ~50 ms
   * in which every socket of the process would wait, at the first reply after a start. One streamed reply
   * from a throwaway loopback server, before the app serves, pays that instead.
   */
  async onApplicationBootstrap(): Promise<void> {
    if (!this.client) {
      return;
    }
    const started = performance.now();
    try {
      const text = await warmUp((client, request, signal) => this.streamWith(client, request, signal));
      this.logger.debug({ durationMs: Math.round(performance.now() - started), text }, 'AI client warmed up');
    } catch (error) {
      this.logger.warn({ err: error }, 'AI client warm-up failed');
    }
  }

  async *stream(request: AiRequest, signal: AbortSignal): AsyncIterable<AiChunk> {
    if (!this.client) {
      throw new AiProviderError('unavailable', 'No AI provider is configured: set OPENAI_API_KEY');
    }
    yield* this.streamWith(this.client, request, signal);
  }

  private async *streamWith(client: OpenAI, request: AiRequest, signal: AbortSignal): AsyncIterable<AiChunk> {
    let stream;
    try {
      stream = await client.chat.completions.create(
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

type StreamWith = (client: OpenAI, request: AiRequest, signal: AbortSignal) => AsyncIterable<AiChunk>;

/** One streamed completion through `streamWith` from a loopback server that answers "ok"; resolves with the text. */
export async function warmUp(streamWith: StreamWith): Promise<string> {
  const chunk = { id: 'warm-up', object: 'chat.completion.chunk', created: 0, model: 'warm-up' };
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const content = { ...chunk, choices: [{ index: 0, delta: { content: 'ok' }, finish_reason: 'stop' }] };
      res.end(`data: ${JSON.stringify(content)}\n\ndata: [DONE]\n\n`);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  try {
    const { port } = server.address() as AddressInfo;
    const client = new OpenAI({ apiKey: 'warm-up', baseURL: `http://127.0.0.1:${port}/v1`, maxRetries: 0 });
    const request: AiRequest = { model: 'warm-up', messages: [{ role: 'user', content: 'ok' }], maxOutputTokens: 1 };
    let text = '';
    for await (const part of streamWith(client, request, AbortSignal.timeout(5000))) {
      text += part.type === 'text' ? part.text : '';
    }
    return text;
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
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
