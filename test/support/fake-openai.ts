/**
 * A fake OpenAI-compatible server (node:http) for tests that drive the real `openai` SDK.
 *
 * Only `POST /v1/chat/completions` exists. Each request takes the next scripted Step (FIFO), or the default step
 * when the queue is empty. Streams are SSE like OpenAI's: `data: <chat.completion.chunk>\n\n` ... `data: [DONE]\n\n`.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { type AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export type FinishReason = 'stop' | 'length';
export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
}

export type Step =
  /** SSE: one chunk per string (`delayMs` between them), a finish chunk (skipped, with usage and [DONE], when null). */
  | { kind: 'stream'; chunks: string[]; delayMs?: number; finishReason?: FinishReason | null; usage?: Usage }
  /** A JSON error; body defaults to OpenAI's `{ error: { message, type, code, param } }`. */
  | { kind: 'error'; status: number; body?: unknown; headers?: Record<string, string> }
  /** Never answers (no headers) until the client aborts or close(). */
  | { kind: 'hang' }
  /** Streams these chunks, then nothing more until the client aborts or close(). */
  | { kind: 'stall'; chunks: string[] }
  /** Streams the first chunk, waits for `release`, then the rest and a normal end. */
  | { kind: 'gate'; chunks: string[]; release: Promise<void> };

export interface RecordedRequest {
  /** The parsed JSON body (the raw text when it is not JSON). */
  body: any;
  headers: Record<string, string | string[] | undefined>;
  /** Resolves when the client closed the connection before the server ended the response; never on close(). */
  closedByClient: Promise<void>;
  closedEarly(): boolean;
}

export interface FakeOpenAi {
  /** Base URL for the SDK's `baseURL`: `http://127.0.0.1:PORT/v1`. */
  url: string;
  /** Every POST /v1/chat/completions received, in order (also those answered 400/401, which take no step). */
  requests: RecordedRequest[];
  script(...steps: Step[]): void;
  setDefault(step: Step): void;
  /** Resolves with the first n requests once n have arrived. */
  waitForRequests(n: number): Promise<RecordedRequest[]>;
  close(): Promise<void>;
}

export const DEFAULT_REPLY = 'Hello from the fake.';

interface ChatBody {
  model?: unknown;
  messages?: unknown;
  stream?: unknown;
  stream_options?: { include_usage?: unknown } | null;
}

/** OpenAI's error body. */
export function openAiError(status: number, message: string): { error: Record<string, string | null> } {
  const type = status === 429 ? 'requests' : status >= 500 ? 'server_error' : 'invalid_request_error';
  const code = status === 401 ? 'invalid_api_key' : status === 429 ? 'rate_limit_exceeded' : null;
  return { error: { message, type, code, param: null } };
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers }).end(JSON.stringify(body));
}

/** A rough prompt size: the number of words in the string contents of the messages. */
function promptTokens(messages: unknown): number {
  const texts = Array.isArray(messages) ? messages.map((m: { content?: unknown }) => m?.content) : [];
  return texts
    .filter((t) => typeof t === 'string')
    .join(' ')
    .split(/\s+/)
    .filter(Boolean).length;
}

export async function startFakeOpenAi(): Promise<FakeOpenAi> {
  const requests: RecordedRequest[] = [];
  const queue: Step[] = [];
  let fallback: Step = { kind: 'stream', chunks: [DEFAULT_REPLY] };
  const waiters: { n: number; resolve: (r: RecordedRequest[]) => void }[] = [];
  let closing = false;

  function record(req: IncomingMessage, res: ServerResponse, body: unknown): void {
    let early = false;
    let resolveClosed = (): void => undefined;
    const closedByClient = new Promise<void>((resolve) => (resolveClosed = resolve));
    res.on('close', () => {
      if (!res.writableEnded && !closing) {
        early = true;
        resolveClosed();
      }
    });
    requests.push({ body, headers: { ...req.headers }, closedByClient, closedEarly: () => early });
    for (const w of waiters.filter((w) => requests.length >= w.n)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(requests.slice(0, w.n));
    }
  }

  async function respond(step: Step, body: ChatBody, res: ServerResponse): Promise<void> {
    const id = `chatcmpl-fake-${requests.length}`;
    const created = Math.floor(Date.now() / 1000);
    const model = typeof body.model === 'string' ? body.model : 'unknown';
    const streaming = body.stream === true;
    const includeUsage = body.stream_options?.include_usage === true;
    const usageOf = (chunks: string[], usage?: Usage) => {
      const u = usage ?? { prompt_tokens: promptTokens(body.messages), completion_tokens: chunks.length };
      return { ...u, total_tokens: u.prompt_tokens + u.completion_tokens };
    };
    const send = (data: unknown): void => {
      if (!res.destroyed) {
        res.write(`data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`);
      }
    };
    const chunk = (choices: unknown[], usage: unknown = null) => ({
      id,
      object: 'chat.completion.chunk',
      created,
      model,
      choices,
      ...(includeUsage ? { usage } : {}),
    });
    const open = (): void => {
      res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' }).flushHeaders();
    };
    /** Writes content chunks; `first` is the index of chunks[0] in the whole reply (index 0 carries the role). */
    const deltas = async (chunks: string[], first = 0, delayMs = 0): Promise<void> => {
      for (const [i, content] of chunks.entries()) {
        if (i > 0 && delayMs > 0) {
          await sleep(delayMs);
        }
        const delta = first + i === 0 ? { role: 'assistant', content } : { content };
        send(chunk([{ index: 0, delta, finish_reason: null }]));
      }
    };
    const end = (chunks: string[], finishReason: FinishReason | null = 'stop', usage?: Usage): void => {
      if (res.destroyed) {
        return;
      }
      if (!streaming) {
        const message = { role: 'assistant', content: chunks.join(''), refusal: null };
        const choice = { index: 0, message, finish_reason: finishReason ?? 'stop', logprobs: null };
        return sendJson(res, 200, {
          id,
          object: 'chat.completion',
          created,
          model,
          choices: [choice],
          usage: usageOf(chunks, usage),
        });
      }
      if (finishReason !== null) {
        send(chunk([{ index: 0, delta: {}, finish_reason: finishReason }]));
        if (includeUsage) {
          send(chunk([], usageOf(chunks, usage)));
        }
        send('[DONE]');
      }
      res.end();
    };

    switch (step.kind) {
      case 'error':
        return sendJson(
          res,
          step.status,
          step.body ?? openAiError(step.status, `Fake error ${step.status}`),
          step.headers,
        );
      case 'hang':
        return;
      case 'stall':
        if (streaming) {
          open();
          await deltas(step.chunks);
        }
        return;
      case 'gate':
        if (streaming) {
          open();
          await deltas(step.chunks.slice(0, 1));
        }
        await step.release;
        if (streaming) {
          await deltas(step.chunks.slice(1), 1);
        }
        return end(step.chunks);
      case 'stream':
        if (streaming) {
          open();
          await deltas(step.chunks, 0, step.delayMs);
        }
        return end(step.chunks, step.finishReason, step.usage);
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const parts: Buffer[] = [];
    for await (const part of req) {
      parts.push(part as Buffer);
    }
    const path = new URL(req.url ?? '/', 'http://fake').pathname;
    if (req.method !== 'POST' || path !== '/v1/chat/completions') {
      return sendJson(res, 404, openAiError(404, `Unknown request URL: ${req.method} ${path}.`));
    }
    const text = Buffer.concat(parts).toString('utf8');
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // kept as text; answered 400 below
    }
    record(req, res, body);
    res.setHeader('x-request-id', `req_fake_${requests.length}`);
    if (!/^Bearer \S+/.test(req.headers.authorization ?? '')) {
      return sendJson(res, 401, openAiError(401, 'Incorrect API key provided.'));
    }
    if (typeof body !== 'object' || body === null) {
      return sendJson(res, 400, openAiError(400, 'The request body is not valid JSON.'));
    }
    await respond(queue.shift() ?? fallback, body, res);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    script: (...steps) => void queue.push(...steps),
    setDefault: (step) => void (fallback = step),
    waitForRequests: (n) =>
      requests.length >= n
        ? Promise.resolve(requests.slice(0, n))
        : new Promise((resolve) => waiters.push({ n, resolve })),
    close: async () => {
      closing = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}
