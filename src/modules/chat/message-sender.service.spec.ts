import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PinoLogger } from 'nestjs-pino';
import { AppException } from '../../common/errors/app.exception';
import { ErrorCode } from '../../common/errors/error-code';
import type { RateDecision, RateLimiter } from '../../common/rate-limit/rate-limiter.service';
import { loadConfig, type AppConfig } from '../../config/app-config';
import type { Actor } from '../persistence/database.port';
import type { MessageDto, SentMessageDto } from './dto/message.dto';
import { MessageSenderService } from './message-sender.service';
import type { MessagesRepository } from './messages.repository';
import type { RealtimeBroadcaster } from '../../common/realtime/realtime-broadcaster';
import { MetricsService } from '../metrics/metrics.service';
import type { TypingService } from './realtime/typing.service';
import type { ContentModerator } from '../moderation/content-moderator.service';
import type { AiReplyService } from '../ai/ai-reply.service';

type UserActor = Actor & { kind: 'user' };

interface PostCall {
  actor: Actor;
  roomId: string;
  content: string;
  clientId: string | null;
}

interface LogCall {
  level: 'warn' | 'debug';
  fields: Record<string, unknown>;
  message: string;
}

class FakeMessagesRepository {
  readonly calls: PostCall[] = [];
  /** Messages already stored, by client id (what a retried send finds). */
  readonly stored = new Map<string, MessageDto>();
  /** How many times a stored message was looked up (a database read). */
  lookups = 0;

  findMine(_actor: Actor, _roomId: string, clientId: string): Promise<MessageDto | undefined> {
    this.lookups += 1;
    return Promise.resolve(this.stored.get(clientId));
  }

  constructor(private readonly outcome: (call: PostCall) => Promise<SentMessageDto>) {}

  post(actor: Actor, roomId: string, content: string, clientId: string | null): Promise<SentMessageDto> {
    const call = { actor, roomId, content, clientId };
    this.calls.push(call);
    return this.outcome(call);
  }
}

class FakeRateLimiter {
  readonly calls: { bucket: string; subject: string; limit: number; windowMs: number }[] = [];

  /** `decision` for sends; `retryLookups` for looking up a retry over the limit (allowed unless given). */
  constructor(
    private readonly decision: RateDecision,
    private readonly retryLookups: RateDecision = { allowed: true, retryAfterMs: 0 },
  ) {}

  consume(bucket: string, subject: string, limit: number, windowMs: number): Promise<RateDecision> {
    this.calls.push({ bucket, subject, limit, windowMs });
    return Promise.resolve(bucket === 'send-retry' ? this.retryLookups : this.decision);
  }
}

class FakeBroadcaster {
  readonly events: { roomId: string; event: string; payload: unknown }[] = [];

  toRoom(roomId: string, event: string, payload: unknown): void {
    this.events.push({ roomId, event, payload });
  }

  toRoomInOrder(roomId: string, _seq: number, event: string, payload: unknown): void {
    this.events.push({ roomId, event, payload });
  }
}

class FakeTyping {
  readonly stopped: { roomId: string; profileId: string }[] = [];

  stop(roomId: string, profileId: string): void {
    this.stopped.push({ roomId, profileId });
  }
}

class FakeAiReplies {
  readonly asked: { askedBy: string; message: MessageDto; mode: string }[] = [];

  consider(askedBy: string, message: MessageDto, mode: string): Promise<void> {
    this.asked.push({ askedBy, message, mode });
    return Promise.resolve();
  }
}

class FakeLogger {
  readonly calls: LogCall[] = [];

  warn(fields: Record<string, unknown>, message: string): void {
    this.calls.push({ level: 'warn', fields, message });
  }

  debug(fields: Record<string, unknown>, message: string): void {
    this.calls.push({ level: 'debug', fields, message });
  }

  failures(): LogCall[] {
    return this.calls.filter((c) => c.message === 'Message send failed');
  }
}

function makeConfig(maxLength = 50): AppConfig {
  return loadConfig({
    LOCAL_JWT_SECRET: 'x'.repeat(40),
    DATA_DIR: join(tmpdir(), `message-sender-${randomUUID()}`),
    MESSAGE_MAX_LENGTH: String(maxLength),
    RATE_SEND_PER_10S: '7',
  });
}

function makeActor(): UserActor {
  return { kind: 'user', id: randomUUID() };
}

function makeMessage(call: PostCall): MessageDto {
  const now = new Date().toISOString();
  return {
    id: randomUUID(),
    roomId: call.roomId,
    seq: 1,
    rev: 1,
    role: 'user',
    senderId: call.actor.kind === 'user' ? call.actor.id : null,
    content: call.content,
    status: 'complete',
    clientId: call.clientId,
    replyToId: null,
    createdAt: now,
    updatedAt: now,
  };
}

function makeHarness(
  options: {
    maxLength?: number;
    rate?: RateDecision;
    retryLookups?: RateDecision;
    post?: (call: PostCall) => Promise<SentMessageDto>;
  } = {},
) {
  const config = makeConfig(options.maxLength);
  const logger = new FakeLogger();
  const rateLimiter = new FakeRateLimiter(options.rate ?? { allowed: true, retryAfterMs: 0 }, options.retryLookups);
  const repository = new FakeMessagesRepository(
    options.post ?? ((call) => Promise.resolve({ message: makeMessage(call), duplicate: false })),
  );
  const broadcaster = new FakeBroadcaster();
  const typing = new FakeTyping();
  const aiReplies = new FakeAiReplies();
  const sut = new MessageSenderService(
    logger as unknown as PinoLogger,
    config,
    rateLimiter as unknown as RateLimiter,
    repository as unknown as MessagesRepository,
    broadcaster as unknown as RealtimeBroadcaster,
    typing as unknown as TypingService,
    new MetricsService(),
    aiReplies as unknown as AiReplyService,
    // Moderation off (MODERATION=off): every text is stored as it is.
    {
      beforeStore: () => Promise.resolve(undefined),
      afterStore: () => undefined,
    } as unknown as ContentModerator,
  );
  return { sut, config, logger, rateLimiter, repository, broadcaster, typing, aiReplies };
}

async function rejectionOf(promise: Promise<unknown>): Promise<AppException> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof AppException) {
      return error;
    }
    throw error;
  }
  throw new Error('the send did not fail');
}

function expectOneFailureLog(logger: FakeLogger, code: ErrorCode, content: string): void {
  const failures = logger.failures();
  expect(failures).toHaveLength(1);
  const [failure] = failures;
  expect(failure.level).toBe('warn');
  expect(failure.fields.code).toBe(code);
  expect(typeof failure.fields.durationMs).toBe('number');
  expect(Number.isFinite(failure.fields.durationMs)).toBe(true);
  expect(failure.fields.durationMs).toBeGreaterThanOrEqual(0);
  expect(failure.fields).not.toHaveProperty('content');
  expect(failure.fields).not.toHaveProperty('text');
  if (content.trim().length > 0) {
    expect(JSON.stringify(failure.fields)).not.toContain(content.trim());
  }
}

describe(MessageSenderService.name, () => {
  it('should store the trimmed content', async () => {
    const { sut, repository } = makeHarness();
    const actor = makeActor();
    const roomId = randomUUID();
    const text = `hello ${randomUUID()}`;

    await sut.send(actor, roomId, `  \n\t${text}  \n`, 'client-1', 'http');

    expect(repository.calls).toEqual([{ actor, roomId, content: text, clientId: 'client-1' }]);
  });

  it('should store a message without clientId as null', async () => {
    const { sut, repository } = makeHarness();

    await sut.send(makeActor(), randomUUID(), `hi ${randomUUID()}`, undefined, 'http');

    expect(repository.calls).toHaveLength(1);
    expect(repository.calls[0].clientId).toBeNull();
  });

  it("should return the repository's result", async () => {
    const expected: SentMessageDto[] = [];
    const { sut } = makeHarness({
      post: (call) => {
        const result = { message: makeMessage(call), duplicate: true };
        expected.push(result);
        return Promise.resolve(result);
      },
    });

    const result = await sut.send(makeActor(), randomUUID(), `hi ${randomUUID()}`, randomUUID(), 'http');

    expect(result).toEqual(expected[0]);
    expect(result.duplicate).toBe(true);
  });

  it("should count the send against the sender's send limit", async () => {
    const { sut, config, rateLimiter } = makeHarness();
    const actor = makeActor();

    await sut.send(actor, randomUUID(), `hi ${randomUUID()}`, undefined, 'http');

    expect(rateLimiter.calls).toEqual([
      { bucket: 'send', subject: actor.id, limit: config.rates.sendPer10s, windowMs: 10_000 },
    ]);
  });

  it('should not log a failure on success', async () => {
    const { sut, logger } = makeHarness();

    await sut.send(makeActor(), randomUUID(), `hi ${randomUUID()}`, undefined, 'http');

    expect(logger.failures()).toEqual([]);
    expect(logger.calls.filter((c) => c.level === 'warn')).toEqual([]);
  });

  it.each([
    ['empty', ''],
    ['blank', '   '],
    ['whitespace-only', '\n\t  \r\n'],
  ])('should refuse %s content', async (_label, content) => {
    const { sut, repository } = makeHarness();

    const error = await rejectionOf(sut.send(makeActor(), randomUUID(), content, randomUUID(), 'http'));

    expect(error.code).toBe(ErrorCode.VALIDATION_FAILED);
    expect(error.details).toEqual([{ field: 'content', message: expect.any(String) }]);
    expect(repository.calls).toEqual([]);
  });

  it('should refuse content longer than the configured maximum', async () => {
    const { sut, repository, config } = makeHarness({ maxLength: 50 });
    const content = `${randomUUID()}`.padEnd(config.messages.maxLength + 1, 'x');

    const error = await rejectionOf(sut.send(makeActor(), randomUUID(), content, randomUUID(), 'http'));

    expect(error.code).toBe(ErrorCode.VALIDATION_FAILED);
    expect(error.details).toEqual([{ field: 'content', message: expect.stringContaining('50') }]);
    expect(repository.calls).toEqual([]);
  });

  it('should accept content of exactly the maximum length once trimmed', async () => {
    const { sut, repository, config } = makeHarness({ maxLength: 50 });
    const text = `${randomUUID()}`.padEnd(config.messages.maxLength, 'x');

    await sut.send(makeActor(), randomUUID(), `   ${text}   `, undefined, 'http');

    expect(repository.calls.map((c) => c.content)).toEqual([text]);
  });

  it('should refuse a send over the rate limit with the limiter retryAfterMs', async () => {
    const retryAfterMs = 4321;
    const { sut, repository } = makeHarness({ rate: { allowed: false, retryAfterMs } });

    const error = await rejectionOf(sut.send(makeActor(), randomUUID(), `hi ${randomUUID()}`, randomUUID(), 'http'));

    expect(error.code).toBe(ErrorCode.RATE_LIMITED);
    expect(error.retryAfterMs).toBe(retryAfterMs);
    expect(repository.calls).toEqual([]);
  });

  describe('failure log', () => {
    it('should log an empty content once at warn without the content', async () => {
      const { sut, logger } = makeHarness();

      await rejectionOf(sut.send(makeActor(), randomUUID(), '   ', undefined, 'http'));

      expectOneFailureLog(logger, ErrorCode.VALIDATION_FAILED, '   ');
    });

    it('should log a too long content once at warn without the content', async () => {
      const { sut, logger, config } = makeHarness({ maxLength: 50 });
      const content = `secret ${randomUUID()}`.padEnd(config.messages.maxLength + 10, 'y');

      await rejectionOf(sut.send(makeActor(), randomUUID(), content, undefined, 'http'));

      expectOneFailureLog(logger, ErrorCode.VALIDATION_FAILED, content);
    });

    it('should log a rate-limited send once at warn without the content', async () => {
      const { sut, logger } = makeHarness({ rate: { allowed: false, retryAfterMs: 500 } });
      const content = `secret ${randomUUID()}`;

      await rejectionOf(sut.send(makeActor(), randomUUID(), content, undefined, 'http'));

      expectOneFailureLog(logger, ErrorCode.RATE_LIMITED, content);
    });

    it('should log and rethrow a refusal of the repository', async () => {
      const refusal = AppException.notFound('Room');
      const { sut, logger } = makeHarness({ post: () => Promise.reject(refusal) });
      const content = `secret ${randomUUID()}`;

      const error = await rejectionOf(sut.send(makeActor(), randomUUID(), content, undefined, 'http'));

      expect(error).toBe(refusal);
      expectOneFailureLog(logger, ErrorCode.NOT_FOUND, content);
    });

    it('should log an unexpected repository error as INTERNAL and rethrow it', async () => {
      const bug = new Error(`bug ${randomUUID()}`);
      const { sut, logger } = makeHarness({ post: () => Promise.reject(bug) });
      const content = `secret ${randomUUID()}`;

      await expect(sut.send(makeActor(), randomUUID(), content, undefined, 'http')).rejects.toBe(bug);

      expectOneFailureLog(logger, ErrorCode.INTERNAL, content);
    });

    it('should name the room and the sender in the failure log', async () => {
      const { sut, logger } = makeHarness({ rate: { allowed: false, retryAfterMs: 500 } });
      const actor = makeActor();
      const roomId = randomUUID();

      await rejectionOf(sut.send(actor, roomId, `hi ${randomUUID()}`, undefined, 'http'));

      expect(logger.failures()[0].fields).toMatchObject({ roomId, userId: actor.id });
    });
  });

  describe('what the room is told', () => {
    it("should end the sender's typing and broadcast message:new with the stored message", async () => {
      const { sut, broadcaster, typing } = makeHarness();
      const actor = makeActor();
      const roomId = randomUUID();

      const result = await sut.send(actor, roomId, 'hello', 'c-1', 'socket');

      expect(typing.stopped).toEqual([{ roomId, profileId: actor.id }]);
      expect(broadcaster.events).toEqual([{ roomId, event: 'message:new', payload: { message: result.message } }]);
    });

    it('should broadcast nothing for a duplicate send', async () => {
      const { sut, broadcaster, typing } = makeHarness({
        post: (call) => Promise.resolve({ message: makeMessage(call), duplicate: true }),
      });

      const result = await sut.send(makeActor(), randomUUID(), 'hello again', 'c-1', 'socket');

      expect(result.duplicate).toBe(true);
      expect(broadcaster.events).toEqual([]);
      expect(typing.stopped).toEqual([]);
    });

    it('should broadcast nothing when the send is refused', async () => {
      const { sut, broadcaster } = makeHarness({ rate: { allowed: false, retryAfterMs: 500 } });

      await rejectionOf(sut.send(makeActor(), randomUUID(), 'hello', 'c-1', 'socket'));

      expect(broadcaster.events).toEqual([]);
    });
  });

  it('should answer a retry of a stored send as a duplicate even over the rate limit', async () => {
    const { sut, repository, broadcaster } = makeHarness({ rate: { allowed: false, retryAfterMs: 500 } });
    const actor = makeActor();
    const roomId = randomUUID();
    const message = makeMessage({ actor, roomId, content: 'hi', clientId: 'c-9' });
    repository.stored.set('c-9', message);

    const result = await sut.send(actor, roomId, 'hi', 'c-9', 'socket');

    expect(result).toEqual({ message, duplicate: true });
    expect(repository.calls).toEqual([]);
    expect(broadcaster.events).toEqual([]);
  });

  it('should refuse a flood of retries over the limit without looking them up once their own budget is spent', async () => {
    const { sut, repository } = makeHarness({
      rate: { allowed: false, retryAfterMs: 500 },
      retryLookups: { allowed: false, retryAfterMs: 700 },
    });
    const actor = makeActor();
    const roomId = randomUUID();
    repository.stored.set('c-9', makeMessage({ actor, roomId, content: 'hi', clientId: 'c-9' }));

    const error = await rejectionOf(sut.send(actor, roomId, 'hi', 'c-9', 'socket'));

    expect(error).toMatchObject({ code: 'RATE_LIMITED', retryAfterMs: 500 });
    expect(repository.lookups).toBe(0);
  });

  describe('asking for an AI reply', () => {
    it('should hand a stored message to the AI replies with the room mode', async () => {
      const { sut, aiReplies } = makeHarness({
        post: (call) => Promise.resolve({ message: makeMessage(call), duplicate: false, roomAiMode: 'mention' }),
      });
      const actor = makeActor();

      const result = await sut.send(actor, randomUUID(), 'hey @ai', 'c-1', 'http');

      expect(aiReplies.asked).toEqual([{ askedBy: actor.id, message: result.message, mode: 'mention' }]);
    });

    it('should not ask for a reply to a duplicate', async () => {
      const { sut, aiReplies } = makeHarness({
        post: (call) => Promise.resolve({ message: makeMessage(call), duplicate: true, roomAiMode: null }),
      });

      await sut.send(makeActor(), randomUUID(), 'hey @ai', 'c-1', 'http');

      expect(aiReplies.asked).toEqual([]);
    });
  });
});
