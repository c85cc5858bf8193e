/**
 * A fake OpenAI-compatible server (node:http) for tests that drive the real `openai` SDK.
 *
 * `POST /v1/chat/completions`: each request takes the next scripted Step (FIFO), or the default step when the queue
 * is empty. Streams are SSE like OpenAI's: `data: <chat.completion.chunk>\n\n` ... `data: [DONE]\n\n`.
 *
 * `POST /v1/moderations`: answered as OpenAI does (`{ id, model, results: [{ flagged, categories,
 * category_applied_input_types, category_scores }] }`, one result per input). An input containing `FLAGME` is flagged
 * as `harassment`, one containing `FLAGVIOLENCE` as `violence` (both: both); anything else passes.
 * `moderation.fail('error')` answers 500, `'hang'` never answers (until the client aborts or close()), `'malformed'`
 * answers 200 without results, each until `moderation.fail(null)`. Requests are recorded in `moderationRequests`.
 *
 * Any other path is 404; a request without a bearer token is 401 (recorded, taking no step).
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

/** How the moderation endpoint fails, until set back to null (then it answers normally). */
export type ModerationFailure = 'error' | 'hang' | 'malformed' | null;

export interface FakeOpenAi {
  /** Base URL for the SDK's `baseURL`: `http://127.0.0.1:PORT/v1`. */
  url: string;
  /** Every POST /v1/chat/completions received, in order (also those answered 400/401, which take no step). */
  requests: RecordedRequest[];
  script(...steps: Step[]): void;
  setDefault(step: Step): void;
  /** Every POST /v1/moderations received, in order (also those answered 400/401). */
  moderationRequests: RecordedRequest[];
  moderation: { fail(failure: ModerationFailure): void };
  /** Resolves with the first n requests once n have arrived. */
  waitForRequests(n: number): Promise<RecordedRequest[]>;
  /** The same for POST /v1/moderations. */
  waitForModerationRequests(n: number): Promise<RecordedRequest[]>;
  close(): Promise<void>;
}

export const DEFAULT_REPLY = 'Hello from the fake.';

/** Words that make the fake's moderation flag an input, with the category each one sets. */
export const FLAG_WORDS = { FLAGME: 'harassment', FLAGVIOLENCE: 'violence' } as const;

/** The categories of OpenAI's omni-moderation results, every one present in each answer. */
const MODERATION_CATEGORIES = [
  'harassment',
  'harassment/threatening',
  'hate',
  'hate/threatening',
  'illicit',
  'illicit/violent',
  'self-harm',
  'self-harm/instructions',
  'self-harm/intent',
  'sexual',
  'sexual/minors',
  'violence',
  'violence/graphic',
] as const;

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

/** The texts of a moderation `input`: a string, strings, or multi-modal parts (one input of its text parts). */
function moderationInputs(input: unknown): string[] | undefined {
  if (typeof input === 'string') {
    return [input];
  }
  if (!Array.isArray(input) || input.length === 0) {
    return undefined;
  }
  if (input.every((i) => typeof i === 'string')) {
    return input;
  }
  return [
    input
      .filter((part: { type?: unknown; text?: unknown }) => part?.type === 'text' && typeof part.text === 'string')
      .map((part: { text: string }) => part.text)
      .join(' '),
  ];
}

function moderationResult(text: string) {
  const flaggedAs = new Set<string>(
    Object.entries(FLAG_WORDS)
      .filter(([word]) => text.includes(word))
      .map(([, category]) => category),
  );
  const each = <T>(value: (category: string) => T) =>
    Object.fromEntries(MODERATION_CATEGORIES.map((category) => [category, value(category)]));
  return {
    flagged: flaggedAs.size > 0,
    categories: each((c) => flaggedAs.has(c)),
    category_applied_input_types: each(() => ['text']),
    category_scores: each((c) => (flaggedAs.has(c) ? 0.93 : 0.0001)),
  };
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
  const moderationRequests: RecordedRequest[] = [];
  let moderationFailure: ModerationFailure = null;
  const queue: Step[] = [];
  let fallback: Step = { kind: 'stream', chunks: [DEFAULT_REPLY] };
  const waiters: { list: RecordedRequest[]; n: number; resolve: (r: RecordedRequest[]) => void }[] = [];
  /** Resolves with the first n requests of `list` once n have arrived. */
  const waitFor = (list: RecordedRequest[], n: number): Promise<RecordedRequest[]> =>
    list.length >= n ? Promise.resolve(list.slice(0, n)) : new Promise((resolve) => waiters.push({ list, n, resolve }));
  let closing = false;

  function record(req: IncomingMessage, res: ServerResponse, body: unknown, into: RecordedRequest[]): void {
    let early = false;
    let resolveClosed = (): void => undefined;
    const closedByClient = new Promise<void>((resolve) => (resolveClosed = resolve));
    res.on('close', () => {
      if (!res.writableEnded && !closing) {
        early = true;
        resolveClosed();
      }
    });
    into.push({ body, headers: { ...req.headers }, closedByClient, closedEarly: () => early });
    for (const w of waiters.filter((w) => w.list.length >= w.n)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(w.list.slice(0, w.n));
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

  function moderate(body: { model?: unknown; input?: unknown }, res: ServerResponse): void {
    switch (moderationFailure) {
      case 'error':
        return sendJson(res, 500, openAiError(500, 'Fake moderation error'));
      case 'hang':
        return;
      case 'malformed':
        return sendJson(res, 200, { id: `modr-fake-${moderationRequests.length}` });
      case null:
        break;
    }
    const inputs = moderationInputs(body.input);
    if (!inputs) {
      return sendJson(res, 400, openAiError(400, "'input' is a required property"));
    }
    sendJson(res, 200, {
      id: `modr-fake-${moderationRequests.length}`,
      model: typeof body.model === 'string' ? body.model : 'omni-moderation-latest',
      results: inputs.map(moderationResult),
    });
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const parts: Buffer[] = [];
    for await (const part of req) {
      parts.push(part as Buffer);
    }
    const path = new URL(req.url ?? '/', 'http://fake').pathname;
    const endpoint =
      req.method !== 'POST'
        ? undefined
        : path === '/v1/chat/completions'
          ? 'chat'
          : path === '/v1/moderations'
            ? 'moderation'
            : undefined;
    if (!endpoint) {
      return sendJson(res, 404, openAiError(404, `Unknown request URL: ${req.method} ${path}.`));
    }
    const text = Buffer.concat(parts).toString('utf8');
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // kept as text; answered 400 below
    }
    const recorded = endpoint === 'chat' ? requests : moderationRequests;
    record(req, res, body, recorded);
    res.setHeader('x-request-id', `req_fake_${endpoint === 'chat' ? '' : 'modr_'}${recorded.length}`);
    if (!/^Bearer \S+/.test(req.headers.authorization ?? '')) {
      return sendJson(res, 401, openAiError(401, 'Incorrect API key provided.'));
    }
    if (typeof body !== 'object' || body === null) {
      return sendJson(res, 400, openAiError(400, 'The request body is not valid JSON.'));
    }
    if (endpoint === 'moderation') {
      return moderate(body, res);
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
    moderationRequests,
    moderation: { fail: (failure) => void (moderationFailure = failure) },
    script: (...steps) => void queue.push(...steps),
    setDefault: (step) => void (fallback = step),
    waitForRequests: (n) => waitFor(requests, n),
    waitForModerationRequests: (n) => waitFor(moderationRequests, n),
    close: async () => {
      closing = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}
