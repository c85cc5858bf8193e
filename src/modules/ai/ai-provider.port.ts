/** One message of the conversation a reply is generated from. */
export interface AiChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface AiRequest {
  model: string;
  messages: AiChatMessage[];
  maxOutputTokens: number;
}

/** What a provider stream yields: text as it comes, then how it ended (absent when the stream just stopped). */
export type AiChunk =
  | { type: 'text'; text: string }
  | { type: 'finish'; reason: string }
  | { type: 'usage'; promptTokens: number; completionTokens: number };

/** The port to a chat-completions provider. */
export interface AiProvider {
  /** False when the server has no provider configured (replies then fail with AI_UNAVAILABLE). */
  readonly available: boolean;
  /** Streams a completion; aborting `signal` closes the provider request. */
  stream(request: AiRequest, signal: AbortSignal): AsyncIterable<AiChunk>;
}

export const AI_PROVIDER = Symbol('AI_PROVIDER');

/** A provider failure, classified for retries, the breaker and the reply's error code. */
export class AiProviderError extends Error {
  override readonly name = 'AiProviderError';

  constructor(
    readonly kind: 'rate_limited' | 'unavailable' | 'refused',
    message: string,
    /** From Retry-After / retry-after-ms, when the provider said. */
    readonly retryAfterMs?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
