/**
 * OPENAI_MODELS: a room may only choose a model the operator allows, and a room whose stored model is no
 * longer allowed (the operator narrowed the list) is answered with the default model, with the operator's key.
 */
import { eventually } from './support/eventually';
import { createDatabase } from './support/postgres-server';
import { createAiRoom, postMessage, storedMessage } from './support/ai-helpers';
import { startFakeOpenAi, type FakeOpenAi } from './support/fake-openai';
import { HttpClient, signUp } from './support/http-client';
import { startTestApp, type TestApp } from './support/test-app';

const DEFAULT_MODEL = 'gpt-default-test';

/** The assistant's reply to `questionId` once it has ended. */
function replyTo(http: HttpClient, roomId: string, questionId: string): Promise<any> {
  return eventually(async () => {
    const res = await http.get(`/api/rooms/${roomId}/messages?limit=100`);
    const reply = (res.body.messages as any[]).find((m) => m.replyToId === questionId);
    return reply?.status !== 'streaming' ? reply : undefined;
  }, 'the reply ended');
}

describe('the model allow-list (OPENAI_MODELS)', () => {
  let fake: FakeOpenAi;
  let databaseUrl: string;
  const apps: TestApp[] = [];

  beforeAll(async () => {
    fake = await startFakeOpenAi();
    databaseUrl = await createDatabase(process.env.TEST_PG_URL ?? '');
  });
  afterAll(async () => {
    await Promise.all(apps.map((app) => app.close()));
    await fake?.close();
  });

  const start = async (models?: string): Promise<TestApp> => {
    const app = await startTestApp({
      DATABASE_URL: databaseUrl,
      LOCAL_JWT_SECRET: 'a-secret-both-apps-share-0123456789abcdef',
      OPENAI_API_KEY: 'test-key',
      OPENAI_BASE_URL: fake.url,
      OPENAI_MODEL: DEFAULT_MODEL,
      ...(models ? { OPENAI_MODELS: models } : {}),
    });
    apps.push(app);
    return app;
  };

  it('should answer a room whose model is no longer allowed with the default model', async () => {
    const before = await start('gpt-once-allowed');
    const owner = await signUp(before.url, 'mdl');
    const room = await createAiRoom(owner, { mode: 'always', model: 'gpt-once-allowed' });
    expect(room.ai.model).toBe('gpt-once-allowed');
    const first = await postMessage(owner, room.id, 'first');
    await replyTo(owner.http, room.id, first.id);
    expect(fake.requests.at(-1)?.body).toMatchObject({ model: 'gpt-once-allowed' });
    await before.close();
    apps.splice(apps.indexOf(before), 1);

    // The operator narrows the list: the same database, the default model alone.
    const after = await start();
    const http = new HttpClient(after.url, owner.token);
    expect((await http.get(`/api/rooms/${room.id}`)).body.ai.model).toBe(DEFAULT_MODEL);
    const second = (await http.post(`/api/rooms/${room.id}/messages`, { content: 'second' })).body.message;
    const reply = await replyTo(http, room.id, second.id);

    expect(reply.status).toBe('complete');
    expect(fake.requests.at(-1)?.body).toMatchObject({ model: DEFAULT_MODEL });
    expect((await storedMessage({ ...owner, http }, room.id, second.id)).content).toBe('second');
  });
});
