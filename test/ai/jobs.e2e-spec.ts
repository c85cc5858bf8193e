import { randomBytes, randomUUID } from 'node:crypto';
import { AiJobsRepository, type ReplyJob } from '../../src/modules/ai/ai-jobs.repository';
import { SERVICE_ACTOR, userActor, type Database } from '../../src/modules/persistence/database.port';
import { PgDatabase } from '../../src/modules/persistence/drivers/pg.database';
import { SupabaseDatabase } from '../../src/modules/persistence/drivers/supabase.database';
import { runMigrations } from '../../src/modules/persistence/migration-runner';
import type { RawSql } from '../persistence/persistence-contract';
import { openEmbeddedDriver, openPostgresDriver, pgRawSql } from '../support/persistence-drivers';
import { createDatabase } from '../support/postgres-server';
import { startPostgrestStandIn } from '../support/postgrest-standin';
import { newJwtSecret } from '../support/supabase-auth';

/** Where the queue's functions run (`service`), and the same database for test data (`setup`) and raw SQL. */
interface QueueEngine {
  service: Database;
  setup: Database;
  raw: RawSql;
  close(): Promise<void>;
}

async function embedded(): Promise<QueueEngine> {
  const driver = await openEmbeddedDriver();
  return { service: driver.db, setup: driver.db, raw: driver.raw, close: () => driver.close() };
}

async function postgres(): Promise<QueueEngine> {
  const driver = await openPostgresDriver();
  return { service: driver.db, setup: driver.db, raw: driver.raw, close: () => driver.close() };
}

/** The service's calls through a PostgREST stand-in (the Supabase driver), on a fresh migrated database. */
async function throughPostgrest(): Promise<QueueEngine> {
  const url = await createDatabase(process.env.TEST_PG_URL ?? '');
  const pg = new PgDatabase('postgres', { connectionString: url, max: 4 });
  await runMigrations(pg);
  const standIn = await startPostgrestStandIn({ databaseUrl: url, jwtSecret: newJwtSecret() });
  const service = new SupabaseDatabase({
    url: standIn.url,
    anonKey: standIn.anonKey,
    serviceRoleKey: standIn.serviceRoleKey,
  });
  return {
    service,
    setup: pg,
    raw: pgRawSql(pg),
    async close() {
      await service.close();
      await standIn.close();
      await pg.close();
    },
  };
}

/**
 * The durable reply queue (migrations/20261130000100_ai_jobs.sql) through its repository, against the real SQL of
 * every engine: one job per question, a room's jobs one at a time in seq order, leases, take-over and fencing.
 */
describe.each([
  ['the embedded engine', embedded],
  ['a PostgreSQL server', postgres],
  ['a PostgreSQL server through PostgREST (Supabase driver)', throughPostgrest],
])('%s: AI reply jobs', (_engine, open) => {
  const A = randomUUID();
  const B = randomUUID();
  const LEASE_MS = 60_000;
  /** A lease that ran out a second ago, as if its holder had stopped renewing it (no test waits for a clock). */
  const RAN_OUT = -1000;
  let engine: QueueEngine | undefined;
  let sut: AiJobsRepository;
  let db: Database;

  beforeAll(async () => {
    engine = await open();
    db = engine.setup;
    sut = new AiJobsRepository(engine.service);
  });

  afterAll(async () => {
    await engine?.close();
  });

  /** A user, a room of theirs and `count` questions in it, each with its job queued. */
  async function roomWithQuestions(count: number): Promise<{ userId: string; roomId: string; questions: any[] }> {
    const username = `u${randomBytes(6).toString('hex')}`;
    const [user] = await db.call<{ id: string }>(SERVICE_ACTOR, 'local_register', {
      p_username: username,
      p_display_name: username,
      p_password_hash: 'hash',
    });
    return { userId: user.id, ...(await anotherRoom(user.id, count)) };
  }

  /** Another room of the user, with `count` questions in it, each with its job queued. */
  async function anotherRoom(userId: string, count: number): Promise<{ roomId: string; questions: any[] }> {
    const [room] = await db.call<{ id: string }>(userActor(userId), 'create_room', {
      p_name: `room ${randomBytes(4).toString('hex')}`,
      p_visibility: 'private',
      p_ai_mode: 'always',
      p_ai_system_prompt: null,
      p_ai_model: null,
    });
    const questions = [];
    for (let i = 0; i < count; i++) {
      const [question] = await db.call<any>(userActor(userId), 'post_message', {
        p_room_id: room.id,
        p_content: `question ${i + 1}`,
        p_client_id: null,
      });
      expect(await sut.enqueue({ questionId: question.id, askedBy: userId })).toBe(true);
      questions.push(question);
    }
    return { roomId: room.id, questions };
  }

  /** Claims as `owner` until the claim comes back without a job of `roomId`. */
  async function claimIn(roomId: string, owner: string, leaseMs = LEASE_MS): Promise<ReplyJob | undefined> {
    const jobs = await sut.claim(owner, 1000, leaseMs);
    return jobs.find((job) => job.roomId === roomId);
  }

  /** The assistant messages of a room, as its owner reads them. */
  async function repliesIn(userId: string, roomId: string): Promise<any[]> {
    const rows = await db.call<any>(userActor(userId), 'list_messages', {
      p_room_id: roomId,
      p_after_seq: null,
      p_before_seq: null,
      p_limit: 100,
    });
    return rows.filter((m) => m.role === 'assistant');
  }

  it('should queue one job per question, however often it is asked for', async () => {
    const { userId, roomId, questions } = await roomWithQuestions(1);

    expect(await sut.enqueue({ questionId: questions[0].id, askedBy: userId })).toBe(false);
    const job = await claimIn(roomId, A);
    expect(job).toEqual({
      id: expect.any(String),
      roomId,
      questionId: questions[0].id,
      questionSeq: 1,
      askedBy: userId,
    });
    const reply = await sut.start(job!.id, A);
    await sut.finish(job!.id, A, 'done', { status: 'complete' });

    // Once answered, asking again queues nothing.
    expect(await sut.enqueue({ questionId: questions[0].id, askedBy: userId })).toBe(false);
    expect(await claimIn(roomId, A)).toBeUndefined();
    expect((await repliesIn(userId, roomId)).map((m) => [m.id, m.status])).toEqual([[reply!.id, 'complete']]);
  });

  it('should carry the over-limit time of a question asked over the limit', async () => {
    const { userId, roomId } = await roomWithQuestions(0);
    const [question] = await db.call<any>(userActor(userId), 'post_message', {
      p_room_id: roomId,
      p_content: 'one too many',
      p_client_id: null,
    });
    await sut.enqueue({ questionId: question.id, askedBy: userId, overLimitMs: 41_500.2 });

    expect(await claimIn(roomId, A)).toMatchObject({ questionId: question.id, overLimitMs: 41_501 });
  });

  it("should hand out a room's jobs one at a time, in the order of their questions", async () => {
    const { roomId, questions } = await roomWithQuestions(3);
    const seen: string[] = [];

    for (let i = 0; i < 3; i++) {
      const job = await claimIn(roomId, i % 2 === 0 ? A : B);
      expect(job?.questionId).toBe(questions[i].id);
      // Nobody gets the next one while this one runs.
      expect(await claimIn(roomId, A)).toBeUndefined();
      expect(await claimIn(roomId, B)).toBeUndefined();
      seen.push(job!.questionId);
      await sut.start(job!.id, i % 2 === 0 ? A : B);
      await sut.finish(job!.id, i % 2 === 0 ? A : B, `answer ${i + 1}`, { status: 'complete' });
    }

    expect(seen).toEqual(questions.map((q) => q.id));
    expect(await claimIn(roomId, A)).toBeUndefined();
  });

  it("should cap a user's replies in progress, across rooms and claims, and serve other people meanwhile", async () => {
    const heavy = await roomWithQuestions(1);
    const rooms = [heavy.roomId];
    for (let i = 0; i < 2; i++) {
      rooms.push((await anotherRoom(heavy.userId, 1)).roomId);
    }
    const other = await roomWithQuestions(1);

    const first = await sut.claim(A, 1000, LEASE_MS, 2);
    const second = await sut.claim(B, 1000, LEASE_MS, 2);

    const heavyJobs = [...first, ...second].filter((job) => rooms.includes(job.roomId));
    expect(heavyJobs).toHaveLength(2);
    expect(heavyJobs.every((job) => job.askedBy === heavy.userId)).toBe(true);
    expect([...first, ...second].filter((job) => job.roomId === other.roomId)).toHaveLength(1);
  });

  it('should never run two jobs of one room at once when instances claim concurrently', async () => {
    const rooms = await Promise.all(Array.from({ length: 6 }, () => roomWithQuestions(4)));
    const ids = new Set(rooms.map((r) => r.roomId));
    const order = new Map<string, string[]>();
    const owners = [A, B, randomUUID(), randomUUID()];
    let done = 0;

    while (done < 24) {
      const claimed = (await Promise.all(owners.map((owner) => sut.claim(owner, 10, LEASE_MS)))).map((jobs, i) =>
        jobs.filter((job) => ids.has(job.roomId)).map((job) => ({ job, owner: owners[i] })),
      );
      const all = claimed.flat();
      const perRoom = new Set(all.map(({ job }) => job.roomId));
      expect(perRoom.size).toBe(all.length);
      await Promise.all(
        all.map(async ({ job, owner }) => {
          order.set(job.roomId, [...(order.get(job.roomId) ?? []), job.questionId]);
          await sut.start(job.id, owner);
          await sut.finish(job.id, owner, 'ok', { status: 'complete' });
        }),
      );
      done += all.length;
    }

    for (const room of rooms) {
      expect(order.get(room.roomId)).toEqual(room.questions.map((q) => q.id));
    }
  });

  it('should start a reply only for the job holder, once', async () => {
    const { roomId, questions } = await roomWithQuestions(1);
    const job = (await claimIn(roomId, A))!;

    expect(await sut.start(job.id, B)).toBeUndefined();
    const reply = await sut.start(job.id, A);
    expect(reply).toMatchObject({ roomId, role: 'assistant', status: 'streaming', content: '', seq: 2 });
    expect(reply?.replyToId).toBe(questions[0].id);
    expect(await sut.start(job.id, A)).toBeUndefined();
  });

  it('should renew only the holder’s leases', async () => {
    const { roomId } = await roomWithQuestions(1);
    const job = (await claimIn(roomId, A))!;

    expect((await sut.renew(A, [job.id], LEASE_MS)).has(job.id)).toBe(true);
    expect((await sut.renew(B, [job.id], LEASE_MS)).has(job.id)).toBe(false);
  });

  it('should renew only the jobs named, so a job its holder dropped expires', async () => {
    const dropped = await roomWithQuestions(1);
    const kept = await roomWithQuestions(1);
    const claimed = await sut.claim(A, 1000, RAN_OUT);
    const droppedJob = claimed.find((job) => job.roomId === dropped.roomId)!;
    const keptJob = claimed.find((job) => job.roomId === kept.roomId)!;
    const droppedReply = (await sut.start(droppedJob.id, A))!;
    const keptReply = (await sut.start(keptJob.id, A))!;

    expect(await sut.renew(A, [keptJob.id], LEASE_MS)).toEqual(new Set([keptJob.id]));
    const ended = (await sut.takeOver()).filter((m) => [dropped.roomId, kept.roomId].includes(m.roomId));

    expect(ended.map((m) => [m.id, m.status])).toEqual([[droppedReply.id, 'failed']]);
    expect((await repliesIn(kept.userId, kept.roomId)).map((m) => [m.id, m.status])).toEqual([
      [keptReply.id, 'streaming'],
    ]);
  });

  it('should let nobody take over a job under a live lease', async () => {
    const { userId, roomId } = await roomWithQuestions(1);
    const job = (await claimIn(roomId, A))!;
    const reply = (await sut.start(job.id, A))!;

    const ended = await sut.takeOver();

    expect(ended.map((m) => m.id)).not.toContain(reply.id);
    expect((await sut.renew(A, [job.id], LEASE_MS)).has(job.id)).toBe(true);
    expect((await repliesIn(userId, roomId))[0].status).toBe('streaming');
  });

  it('should fail a started reply whose lease ran out with its stored text, fence the old holder out, and go on with the room', async () => {
    const { userId, roomId, questions } = await roomWithQuestions(2);
    const job = (await claimIn(roomId, A, RAN_OUT))!;
    const reply = (await sut.start(job.id, A))!;
    await sut.checkpoint(job.id, A, 'Half a');

    const ended = (await sut.takeOver()).filter((m) => m.roomId === roomId);

    expect(ended).toEqual([
      {
        ...reply,
        content: 'Half a',
        status: 'failed',
        error: { code: 'AI_FAILED', message: 'The server writing this reply stopped' },
        updatedAt: expect.any(String),
        // Its final status is the room's next change (its checkpoint was not one).
        rev: reply.rev + 1,
      },
    ]);
    // The old holder can neither renew, write nor end it any more.
    expect((await sut.renew(A, [job.id], LEASE_MS)).has(job.id)).toBe(false);
    await sut.checkpoint(job.id, A, 'Half a thought');
    expect(await sut.finish(job.id, A, 'Half a thought, whole', { status: 'complete' })).toBeUndefined();
    expect(await repliesIn(userId, roomId)).toEqual([
      expect.objectContaining({ id: reply.id, status: 'failed', content: 'Half a', error_code: 'AI_FAILED' }),
    ]);
    // The room's queue goes on.
    expect((await claimIn(roomId, B))?.questionId).toBe(questions[1].id);
  });

  it('should take over every running job of a gone instance at once, whatever its lease', async () => {
    const { roomId } = await roomWithQuestions(1);
    const gone = randomUUID();
    const job = (await claimIn(roomId, gone))!;
    const reply = (await sut.start(job.id, gone))!;

    const ended = (await sut.takeOver({ owner: gone })).filter((m) => m.roomId === roomId);

    expect(ended.map((m) => [m.id, m.status])).toEqual([[reply.id, 'failed']]);
  });

  it('should queue again a job whose holder went before its reply started, and give it up after 3 claims', async () => {
    const { userId, roomId, questions } = await roomWithQuestions(2);

    for (let claim = 1; claim <= 3; claim++) {
      const job = await claimIn(roomId, A, RAN_OUT);
      expect(job?.questionId).toBe(questions[0].id);
      expect((await sut.takeOver()).filter((m) => m.roomId === roomId)).toEqual([]);
    }

    expect((await claimIn(roomId, A))?.questionId).toBe(questions[1].id);
    expect(await repliesIn(userId, roomId)).toEqual([]);
  });

  it('should end a reply once: a finished job is gone and a second finish changes nothing', async () => {
    const { userId, roomId } = await roomWithQuestions(1);
    const job = (await claimIn(roomId, A))!;
    const reply = (await sut.start(job.id, A))!;

    const stored = await sut.finish(job.id, A, 'Stopped here', { status: 'cancelled' });

    expect(stored).toMatchObject({ id: reply.id, status: 'cancelled', content: 'Stopped here' });
    expect(await sut.finish(job.id, A, 'Other', { status: 'complete' })).toBeUndefined();
    expect((await sut.renew(A, [job.id], LEASE_MS)).has(job.id)).toBe(false);
    expect((await repliesIn(userId, roomId))[0]).toMatchObject({ status: 'cancelled', content: 'Stopped here' });
  });

  it('should refuse to end a reply as streaming', async () => {
    const { roomId } = await roomWithQuestions(1);
    const job = (await claimIn(roomId, A))!;
    await sut.start(job.id, A);

    await expect(sut.finish(job.id, A, 'x', { status: 'streaming' as never })).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
    });
  });

  it("should drop a room's jobs with the room", async () => {
    const { userId, roomId } = await roomWithQuestions(2);
    await db.call(userActor(userId), 'delete_room', { p_room_id: roomId });

    expect(await claimIn(roomId, A)).toBeUndefined();
  });

  it('should refuse a user every function of the queue', async () => {
    const { userId, questions } = await roomWithQuestions(0).then(async (r) => ({
      ...r,
      questions: await db.call<any>(userActor(r.userId), 'post_message', {
        p_room_id: r.roomId,
        p_content: 'mine',
        p_client_id: null,
      }),
    }));
    const user = userActor(userId);
    const calls: [string, Record<string, unknown>][] = [
      ['ai_enqueue_job', { p_question_id: questions[0].id, p_asked_by: userId, p_over_limit_ms: null }],
      ['ai_claim_jobs', { p_owner: A, p_limit: 1, p_lease_ms: 1000 }],
      ['ai_renew_jobs', { p_owner: A, p_job_ids: [], p_lease_ms: 1000 }],
      ['ai_start_job', { p_job_id: randomUUID(), p_owner: A }],
      ['ai_checkpoint_job', { p_job_id: randomUUID(), p_owner: A, p_content: 'x' }],
      [
        'ai_finish_job',
        {
          p_job_id: randomUUID(),
          p_owner: A,
          p_content: 'x',
          p_status: 'complete',
          p_error_code: null,
          p_error_message: null,
        },
      ],
      ['ai_take_over_jobs', { p_owner: null, p_all: true }],
    ];

    for (const [fn, args] of calls) {
      await expect(db.call(user, fn, args)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    }
    const rows = await engine!.raw.asUser(userId, (query) =>
      query('select count(*)::int as n from chat_private.ai_jobs').catch((error: { code?: string }) => error),
    );
    expect(rows).toMatchObject({ code: '42501' });
  });
});
