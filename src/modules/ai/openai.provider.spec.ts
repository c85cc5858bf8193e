import type { AiChunk } from './ai-provider.port';
import { warmUp } from './openai.provider';

describe('warmUp', () => {
  it('should stream one reply through the SDK from its own loopback server, and answer its text', async () => {
    const seen: { baseURL: string; model: string }[] = [];
    const text = await warmUp(async function* (client, request, signal): AsyncIterable<AiChunk> {
      seen.push({ baseURL: client.baseURL, model: request.model });
      const stream = await client.chat.completions.create(
        { model: request.model, messages: request.messages, stream: true },
        { signal },
      );
      for await (const chunk of stream) {
        const content = chunk.choices[0]?.delta?.content;
        if (content) {
          yield { type: 'text', text: content };
        }
      }
    });

    expect(text).toBe('ok');
    expect(seen).toEqual([{ baseURL: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/v1$/), model: 'warm-up' }]);
  });

  it('should close its server even when the stream fails', async () => {
    let baseURL = '';
    const failing = async function* (client: { baseURL: string }): AsyncIterable<AiChunk> {
      baseURL = client.baseURL;
      await Promise.reject(new Error('broken stream'));
      yield { type: 'text', text: 'never' };
    };
    await expect(warmUp(failing as never)).rejects.toThrow('broken stream');
    await expect(fetch(`${baseURL}/chat/completions`, { method: 'POST' })).rejects.toThrow();
  });
});
