/**
 * ModerationService (the real module, the real `openai` SDK and pino) against the fake provider's moderation
 * endpoint: verdicts, every failure as ModerationUnavailableError, the timeout, and no text in the logs.
 */
import { Module } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { LoggerModule } from 'nestjs-pino';
import { loadConfig } from '../src/config/app-config';
import { ConfigModule } from '../src/config/config.module';
import { MetricsService } from '../src/modules/metrics/metrics.service';
import { ModerationService, ModerationUnavailableError } from '../src/modules/moderation/moderation.service';
import { startFakeOpenAi, type FakeOpenAi } from './support/fake-openai';

const TIMEOUT_MS = 1000;
const MODEL = 'omni-moderation-fake';

/** The metrics service without MetricsModule's database and Redis watchers, which this suite has none of. */
@Module({ providers: [MetricsService], exports: [MetricsService] })
class BareMetricsModule {}

let fake: FakeOpenAi;
let moduleRef: TestingModule;
let sut: ModerationService;
let metrics: MetricsService;
const logLines: string[] = [];

async function startModeration(env: Record<string, string>): Promise<TestingModule> {
  const config = loadConfig({
    DATA_DIR: '/nonexistent',
    LOCAL_JWT_SECRET: `secret-${randomUUID()}-${randomUUID()}`,
    ...env,
  });
  const logs = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      logLines.push(chunk.toString('utf8'));
      callback();
    },
  });
  return Test.createTestingModule({
    imports: [
      ConfigModule.forRoot(config),
      LoggerModule.forRoot({ pinoHttp: [{ level: 'trace' }, logs] }),
      BareMetricsModule,
    ],
    // The service alone: ModerationModule's ContentModerator needs the database and the broadcaster.
    providers: [ModerationService],
  }).compile();
}

/** A text nobody else sends, so a test finds its own request and log lines. */
function makeText(words = ''): string {
  return `a message ${randomUUID()} ${words}`.trim();
}

async function checksCounted(): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const line of (await metrics.metrics()).split('\n')) {
    const match = /^chat_moderation_checks_total\{outcome="(\w+)"\} (\d+)$/.exec(line);
    if (match) {
      counts[match[1]] = Number(match[2]);
    }
  }
  return counts;
}

beforeAll(async () => {
  fake = await startFakeOpenAi();
  moduleRef = await startModeration({
    MODERATION: 'openai',
    OPENAI_API_KEY: 'test-key',
    OPENAI_BASE_URL: fake.url,
    MODERATION_MODEL: MODEL,
    MODERATION_TIMEOUT_MS: String(TIMEOUT_MS),
    MODERATION_MODE: 'pre',
    MODERATION_FAIL_OPEN: 'false',
    MODERATION_RETRY_MS: '20000',
  });
  sut = moduleRef.get(ModerationService);
  metrics = moduleRef.get(MetricsService);
});

afterEach(() => {
  fake.moderation.fail(null);
});

afterAll(async () => {
  await moduleRef?.close();
  await fake?.close();
});

describe(ModerationService.name, () => {
  it('should expose the configured policy', () => {
    expect({ enabled: sut.enabled, mode: sut.mode, failOpen: sut.failOpen, retryMs: sut.retryMs }).toEqual({
      enabled: true,
      mode: 'pre',
      failOpen: false,
      retryMs: 20_000,
    });
  });

  it('should pass a harmless text, asking the configured model with the key', async () => {
    const text = makeText();

    const verdict = await sut.check(text);

    expect(verdict).toEqual({ flagged: false, categories: [] });
    const request = fake.moderationRequests.find((r) => r.body?.input === text);
    expect(request?.body).toEqual({ model: MODEL, input: text });
    expect(request?.headers.authorization).toBe('Bearer test-key');
  });

  it('should flag a text with the categories the provider returned true', async () => {
    expect(await sut.check(makeText('FLAGME'))).toEqual({ flagged: true, categories: ['harassment'] });
    expect(await sut.check(makeText('FLAGME and FLAGVIOLENCE'))).toEqual({
      flagged: true,
      categories: ['harassment', 'violence'],
    });
  });

  it('should count checks by outcome', async () => {
    const before = await checksCounted();

    await sut.check(makeText());
    await sut.check(makeText('FLAGME'));
    fake.moderation.fail('error');
    await expect(sut.check(makeText())).rejects.toThrow(ModerationUnavailableError);

    const after = await checksCounted();
    const added = (outcome: string) => (after[outcome] ?? 0) - (before[outcome] ?? 0);
    expect({ passed: added('passed'), flagged: added('flagged'), unavailable: added('unavailable') }).toEqual({
      passed: 1,
      flagged: 1,
      unavailable: 1,
    });
  });

  it('should throw ModerationUnavailableError when the provider answers 500, logging the reason only', async () => {
    fake.moderation.fail('error');
    const text = makeText('FLAGME');

    const error = await sut.check(text).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ModerationUnavailableError);
    expect((error as Error).message).toBe('Moderation unavailable: the provider answered 500');
    const warning = logLines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l.msg === 'moderation check unavailable' && l.reason === 'the provider answered 500');
    expect(warning).toMatchObject({ level: 40, context: ModerationService.name });
    expect(logLines.join('')).not.toContain(text);
  });

  it('should throw ModerationUnavailableError on an answer without results', async () => {
    fake.moderation.fail('malformed');

    const error = await sut.check(makeText()).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ModerationUnavailableError);
    expect((error as Error).message).toMatch(/^Moderation unavailable: unexpected answer/);
  });

  it('should give up on a provider that does not answer within MODERATION_TIMEOUT_MS, closing the request', async () => {
    fake.moderation.fail('hang');
    const text = makeText();
    const started = performance.now();

    const error = await sut.check(text).catch((e: unknown) => e);

    const elapsed = performance.now() - started;
    expect(error).toBeInstanceOf(ModerationUnavailableError);
    expect((error as Error).message).toBe(`Moderation unavailable: no answer within ${TIMEOUT_MS} ms`);
    expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
    expect(elapsed).toBeLessThan(TIMEOUT_MS + 2000);
    const request = fake.moderationRequests.find((r) => r.body?.input === text);
    await request?.closedByClient;
    expect(request?.closedEarly()).toBe(true);
    expect(logLines.join('')).not.toContain(text);
  });

  it('should throw ModerationUnavailableError when the provider cannot be reached', async () => {
    const gone = await startFakeOpenAi();
    await gone.close();
    const unreachable = await startModeration({
      MODERATION: 'openai',
      OPENAI_API_KEY: 'test-key',
      OPENAI_BASE_URL: gone.url,
    });
    try {
      const error = await unreachable
        .get(ModerationService)
        .check(makeText())
        .catch((e: unknown) => e);

      expect(error).toBeInstanceOf(ModerationUnavailableError);
      expect((error as Error).message).toBe('Moderation unavailable: the provider could not be reached');
    } finally {
      await unreachable.close();
    }
  });

  it('should be disabled with MODERATION=off and refuse to check, asking nobody', async () => {
    const off = await startModeration({ OPENAI_API_KEY: 'test-key', OPENAI_BASE_URL: fake.url });
    try {
      const service = off.get(ModerationService);
      const asked = fake.moderationRequests.length;

      expect(service.enabled).toBe(false);
      expect({ mode: service.mode, failOpen: service.failOpen, retryMs: service.retryMs }).toEqual({
        mode: 'post',
        failOpen: true,
        retryMs: 15_000,
      });
      await expect(service.check(makeText())).rejects.toThrow(ModerationUnavailableError);
      expect(fake.moderationRequests).toHaveLength(asked);
    } finally {
      await off.close();
    }
  });
});
