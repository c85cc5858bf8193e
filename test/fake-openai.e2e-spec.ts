import OpenAI, { APIConnectionError, APIError, APIUserAbortError } from 'openai';
import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import { DEFAULT_REPLY, startFakeOpenAi, type FakeOpenAi } from './support/fake-openai';

const MODEL = 'gpt-fake';
const MESSAGES = [
  { role: 'system' as const, content: 'Be brief.' },
  { role: 'user' as const, content: 'Say hello' },
];

let fake: FakeOpenAi;
let client: OpenAI;

beforeEach(async () => {
  fake = await startFakeOpenAi();
  client = new OpenAI({ apiKey: 'test', baseURL: fake.url, maxRetries: 0 });
});

afterEach(async () => {
  await fake.close();
});

function streamChat(options: { signal?: AbortSignal; timeout?: number } = {}) {
  return client.chat.completions.create(
    { model: MODEL, messages: MESSAGES, stream: true, stream_options: { include_usage: true } },
    options,
  );
}

async function collect(stream: AsyncIterable<ChatCompletionChunk>): Promise<ChatCompletionChunk[]> {
  const chunks: ChatCompletionChunk[] = [];
  for await (const chunk of stream) {
    chunks.push(chunk);
  }
  return chunks;
}

const textOf = (chunks: ChatCompletionChunk[]) => chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
const finishOf = (chunks: ChatCompletionChunk[]) => chunks.find((c) => c.choices[0]?.finish_reason)?.choices[0];

/** The raw SSE text of a streamed request, read with plain fetch. */
async function rawStream(): Promise<{ res: Response; events: string[] }> {
  const res = await fetch(`${fake.url}/chat/completions`, {
    method: 'POST',
    headers: { Authorization: 'Bearer test', 'Content-Type': 'application/json' },
    body: JSON.stringify({ model: MODEL, messages: MESSAGES, stream: true }),
  });
  const text = await res.text();
  expect(text.endsWith('\n\n')).toBe(true);
  return { res, events: text.slice(0, -2).split('\n\n') };
}

describe('fake OpenAI server, through the openai SDK', () => {
  it('streams scripted chunks with role, finish_reason and usage, and records the request', async () => {
    fake.script({ kind: 'stream', chunks: ['Hel', 'lo', ' there'], delayMs: 5 });
    const chunks = await collect(await streamChat());

    expect(textOf(chunks)).toBe('Hello there');
    expect(chunks[0]).toMatchObject({
      id: 'chatcmpl-fake-1',
      object: 'chat.completion.chunk',
      model: MODEL,
      choices: [{ index: 0, delta: { role: 'assistant', content: 'Hel' }, finish_reason: null }],
    });
    expect(chunks[1].choices[0].delta).toEqual({ content: 'lo' });
    expect(finishOf(chunks)).toEqual({ index: 0, delta: {}, finish_reason: 'stop' });
    const last = chunks[chunks.length - 1];
    expect(last.choices).toEqual([]);
    expect(last.usage).toEqual({ prompt_tokens: 4, completion_tokens: 3, total_tokens: 7 });

    const [request] = await fake.waitForRequests(1);
    expect(request.body).toMatchObject({
      model: MODEL,
      messages: MESSAGES,
      stream: true,
      stream_options: { include_usage: true },
    });
    expect(request.headers.authorization).toBe('Bearer test');
    expect(request.closedEarly()).toBe(false);
  });

  it('passes max_completion_tokens through and reports a `length` finish with scripted usage', async () => {
    fake.script({
      kind: 'stream',
      chunks: ['cut'],
      finishReason: 'length',
      usage: { prompt_tokens: 10, completion_tokens: 1 },
    });
    const stream = await client.chat.completions.create({
      model: MODEL,
      messages: MESSAGES,
      stream: true,
      stream_options: { include_usage: true },
      max_completion_tokens: 1,
    });
    const chunks = await collect(stream);
    expect(textOf(chunks)).toBe('cut');
    expect(finishOf(chunks)?.finish_reason).toBe('length');
    expect(chunks[chunks.length - 1].usage).toEqual({ prompt_tokens: 10, completion_tokens: 1, total_tokens: 11 });
    expect(fake.requests[0].body.max_completion_tokens).toBe(1);
  });

  it('answers from the default when the queue is empty, FIFO otherwise; no usage chunk unless asked', async () => {
    fake.script({ kind: 'stream', chunks: ['one'] }, { kind: 'stream', chunks: ['two'] });
    expect(textOf(await collect(await streamChat()))).toBe('one');
    expect(textOf(await collect(await streamChat()))).toBe('two');
    expect(textOf(await collect(await streamChat()))).toBe(DEFAULT_REPLY);
    fake.setDefault({ kind: 'stream', chunks: ['new ', 'default'] });
    const plain = await client.chat.completions.create({ model: MODEL, messages: MESSAGES, stream: true });
    const chunks = await collect(plain);
    expect(textOf(chunks)).toBe('new default');
    expect(chunks.every((c) => c.usage === undefined && c.choices.length === 1)).toBe(true);
    expect(fake.requests).toHaveLength(4);
  });

  it('surfaces an error step as APIError with its status', async () => {
    fake.script({ kind: 'error', status: 500 });
    const error = await streamChat().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(APIError);
    expect(error).toMatchObject({ status: 500, type: 'server_error', message: '500 Fake error 500' });
    expect((error as APIError).requestID).toBe('req_fake_1');
  });

  it('shows a 429 header on the error, and the SDK retries it (honouring retry-after-ms) when allowed', async () => {
    const rateLimited = { kind: 'error' as const, status: 429, headers: { 'retry-after-ms': '50' } };
    fake.script(rateLimited);
    const error = await streamChat().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    expect((error as APIError).status).toBe(429);
    expect((error as APIError).headers?.get('retry-after-ms')).toBe('50');
    expect((error as APIError).code).toBe('rate_limit_exceeded');

    fake.script(rateLimited, { kind: 'stream', chunks: ['after retry'] });
    const retrying = new OpenAI({ apiKey: 'test', baseURL: fake.url, maxRetries: 1 });
    const started = Date.now();
    const stream = await retrying.chat.completions.create({ model: MODEL, messages: MESSAGES, stream: true });
    expect(textOf(await collect(stream))).toBe('after retry');
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
    expect(fake.requests).toHaveLength(3);
  });

  it('a custom error body is sent as is', async () => {
    fake.script({
      kind: 'error',
      status: 400,
      body: { error: { message: 'bad model', type: 'x', code: 'model_not_found' } },
    });
    await expect(streamChat()).rejects.toMatchObject({
      status: 400,
      code: 'model_not_found',
      message: '400 bad model',
    });
  });

  it('hang: the request is aborted by an AbortController and closedByClient resolves', async () => {
    fake.script({ kind: 'hang' });
    const controller = new AbortController();
    const pending = streamChat({ signal: controller.signal });
    const [request] = await fake.waitForRequests(1);
    expect(request.closedEarly()).toBe(false);
    controller.abort();
    await expect(pending).rejects.toBeInstanceOf(APIUserAbortError);
    await request.closedByClient;
    expect(request.closedEarly()).toBe(true);
  });

  it('hang: the SDK `timeout` covers the wait for the response headers', async () => {
    fake.script({ kind: 'hang' });
    // APIConnectionTimeoutError under plain node; under jest the abort's DOMException comes from another realm,
    // the SDK's castToError loses its name, and it reports the superclass APIConnectionError ("Connection error.").
    await expect(streamChat({ timeout: 100 })).rejects.toBeInstanceOf(APIConnectionError);
    await fake.requests[0].closedByClient;
  });

  it('stall: chunks arrive, then nothing (not even past the SDK timeout); an abort ends the iteration silently', async () => {
    fake.script({ kind: 'stall', chunks: ['a', 'b'] });
    const controller = new AbortController();
    const stream = await streamChat({ signal: controller.signal, timeout: 100 });
    const seen: string[] = [];
    let ended = false;
    const done = (async () => {
      for await (const chunk of stream) {
        seen.push(chunk.choices[0]?.delta.content ?? '');
      }
      ended = true;
    })();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(seen).toEqual(['a', 'b']);
    expect(ended).toBe(false);

    controller.abort();
    await done; // the SDK swallows the abort: the loop just ends, without an error
    expect(seen).toEqual(['a', 'b']);
    await fake.requests[0].closedByClient;
    expect(fake.requests[0].closedEarly()).toBe(true);
  });

  it('gate: the first chunk comes at once, the rest and the end only after release', async () => {
    let release = (): void => undefined;
    fake.script({ kind: 'gate', chunks: ['first', ' second', ' third'], release: new Promise((r) => (release = r)) });
    const iterator = (await streamChat())[Symbol.asyncIterator]();
    const first = await iterator.next();
    expect(first.value?.choices[0].delta).toEqual({ role: 'assistant', content: 'first' });

    let next: IteratorResult<ChatCompletionChunk> | undefined;
    const nextPromise = iterator.next().then((r) => (next = r));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(next).toBeUndefined();

    release();
    await nextPromise;
    const rest: ChatCompletionChunk[] = [next!.value as ChatCompletionChunk];
    for (let r = await iterator.next(); !r.done; r = await iterator.next()) {
      rest.push(r.value);
    }
    expect(textOf(rest)).toBe(' second third');
    expect(finishOf(rest)?.finish_reason).toBe('stop');
    expect(rest[rest.length - 1].usage?.completion_tokens).toBe(3);
  });

  it('finishReason null: the stream ends without a finish chunk or [DONE], and the SDK raises no error', async () => {
    fake.script({ kind: 'stream', chunks: ['trunc', 'ated'], finishReason: null });
    const chunks = await collect(await streamChat());
    expect(textOf(chunks)).toBe('truncated');
    expect(chunks.every((c) => c.choices[0]?.finish_reason === null)).toBe(true);
    expect(chunks.some((c) => c.usage)).toBe(false);
    expect(fake.requests[0].closedEarly()).toBe(false);

    fake.script({ kind: 'stream', chunks: ['trunc', 'ated'], finishReason: null });
    const { events } = await rawStream();
    expect(events).toHaveLength(2);
    expect(events.every((e) => e.startsWith('data: {'))).toBe(true);
  });

  it('non-streaming requests get a chat.completion', async () => {
    fake.script({ kind: 'stream', chunks: ['Hi', '!'] });
    const completion = await client.chat.completions.create({ model: MODEL, messages: MESSAGES });
    expect(completion).toMatchObject({
      id: 'chatcmpl-fake-1',
      object: 'chat.completion',
      model: MODEL,
      choices: [{ index: 0, message: { role: 'assistant', content: 'Hi!' }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 4, completion_tokens: 2, total_tokens: 6 },
    });
  });
});

describe('fake OpenAI server, raw HTTP', () => {
  it('speaks SSE: text/event-stream, `data: <json>` events, [DONE] last', async () => {
    fake.script({ kind: 'stream', chunks: ['x', 'y'] });
    const { res, events } = await rawStream();
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    expect(events.map((e) => e.slice(0, 6))).toEqual(['data: ', 'data: ', 'data: ', 'data: ']);
    expect(events[3]).toBe('data: [DONE]');
    expect(JSON.parse(events[2].slice(6))).toMatchObject({ choices: [{ delta: {}, finish_reason: 'stop' }] });
    expect(JSON.parse(events[0].slice(6))).not.toHaveProperty('usage');
  });

  it('answers 401 without a bearer token (taking no step), 404 for unknown paths', async () => {
    fake.script({ kind: 'stream', chunks: ['kept'] });
    const noAuth = await fetch(`${fake.url}/chat/completions`, { method: 'POST', body: '{}' });
    expect(noAuth.status).toBe(401);
    expect(await noAuth.json()).toMatchObject({ error: { code: 'invalid_api_key', type: 'invalid_request_error' } });
    const emptyToken = await fetch(`${fake.url}/chat/completions`, {
      method: 'POST',
      headers: { Authorization: 'Bearer ' },
      body: '{}',
    });
    expect(emptyToken.status).toBe(401);
    expect(fake.requests).toHaveLength(2);

    const unknown = await fetch(`${fake.url}/models`, { headers: { Authorization: 'Bearer test' } });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ error: { message: expect.stringContaining('/v1/models') } });
    expect(fake.requests).toHaveLength(2);

    expect(textOf(await collect(await streamChat()))).toBe('kept');
  });

  it('waitForRequests resolves once n requests arrived; close() ends hanging and stalled connections', async () => {
    fake.script({ kind: 'hang' }, { kind: 'stall', chunks: ['s'] });
    const waiting = fake.waitForRequests(2);
    const hanging = streamChat().catch((e: unknown) => e);
    const stalled = await streamChat();
    const requests = await waiting;
    expect(requests).toHaveLength(2);

    const reading = collect(stalled).catch((e: unknown) => e);
    await fake.close();
    expect(await hanging).toBeInstanceOf(APIConnectionError); // the server went away before the headers
    // A body cut by the server is undici's `TypeError: terminated`, thrown from the loop (not swallowed like an abort).
    expect(await reading).toMatchObject({ name: 'TypeError', message: 'terminated' });
    expect(requests.map((r) => r.closedEarly())).toEqual([false, false]);
  });
});

describe('fake OpenAI server, moderations', () => {
  const CATEGORY_NAMES = [
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
  ];
  const flaggedIn = (categories: object) =>
    Object.entries(categories)
      .filter(([, v]) => v === true)
      .map(([k]) => k);

  it('answers as OpenAI does, one result per input: FLAGME is harassment, FLAGVIOLENCE violence', async () => {
    const answer = await client.moderations.create({
      model: 'omni-moderation-latest',
      input: ['hello', 'you FLAGME', 'FLAGVIOLENCE', 'FLAGME FLAGVIOLENCE'],
    });

    expect(answer).toMatchObject({ id: 'modr-fake-1', model: 'omni-moderation-latest' });
    expect(answer.results.map((r) => [r.flagged, flaggedIn(r.categories)])).toEqual([
      [false, []],
      [true, ['harassment']],
      [true, ['violence']],
      [true, ['harassment', 'violence']],
    ]);
    const [passed, flagged] = answer.results;
    expect(Object.keys(passed.categories)).toEqual(CATEGORY_NAMES);
    expect(Object.keys(passed.category_scores)).toEqual(CATEGORY_NAMES);
    expect(Object.keys(passed.category_applied_input_types)).toEqual(CATEGORY_NAMES);
    expect(flagged.category_scores.harassment).toBeGreaterThan(0.5);
    expect(flagged.category_scores.violence).toBeLessThan(0.5);
    expect(fake.moderationRequests.map((r) => r.body)).toEqual([
      { model: 'omni-moderation-latest', input: ['hello', 'you FLAGME', 'FLAGVIOLENCE', 'FLAGME FLAGVIOLENCE'] },
    ]);
    expect(fake.requests).toHaveLength(0);
  });

  it('takes a single string and multi-modal text parts', async () => {
    const single = await client.moderations.create({ input: 'FLAGME' });
    const parts = await client.moderations.create({ input: [{ type: 'text', text: 'just FLAGVIOLENCE' }] });

    expect(single.results.map((r) => flaggedIn(r.categories))).toEqual([['harassment']]);
    expect(parts.results.map((r) => flaggedIn(r.categories))).toEqual([['violence']]);
  });

  it('fails as told until told otherwise: 500, an answer without results, or no answer until the client aborts', async () => {
    fake.moderation.fail('error');
    const error = await client.moderations.create({ input: 'x' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(APIError);
    expect(error).toMatchObject({ status: 500, type: 'server_error' });
    expect(await client.moderations.create({ input: 'x' }).catch((e: unknown) => e)).toMatchObject({ status: 500 });

    fake.moderation.fail('malformed');
    expect(await client.moderations.create({ input: 'x' })).not.toHaveProperty('results');

    fake.moderation.fail('hang');
    const aborted = await client.moderations
      .create({ input: 'x' }, { signal: AbortSignal.timeout(100) })
      .catch((e: unknown) => e);
    expect(aborted).toBeInstanceOf(APIUserAbortError);
    await fake.moderationRequests[3].closedByClient;

    fake.moderation.fail(null);
    expect((await client.moderations.create({ input: 'x' })).results[0].flagged).toBe(false);
    expect(fake.moderationRequests).toHaveLength(5);
  });

  it('answers 401 without a bearer token and 400 without an input, recording both', async () => {
    const noAuth = await fetch(`${fake.url}/moderations`, { method: 'POST', body: '{"input":"x"}' });
    const noInput = await fetch(`${fake.url}/moderations`, {
      method: 'POST',
      headers: { Authorization: 'Bearer test', 'Content-Type': 'application/json' },
      body: '{}',
    });

    expect(noAuth.status).toBe(401);
    expect(noInput.status).toBe(400);
    expect(await noInput.json()).toMatchObject({ error: { type: 'invalid_request_error' } });
    expect(fake.moderationRequests).toHaveLength(2);
  });
});
