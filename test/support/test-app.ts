import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppModule } from '../../src/app.module';
import { configureApp } from '../../src/app.setup';
import { loadConfig, type AppConfig } from '../../src/config/app-config';
import { PgDatabase } from '../../src/modules/persistence/drivers/pg.database';
import { runMigrations } from '../../src/modules/persistence/migration-runner';
import { SocketPool } from './socket-client';
import { createDatabase } from './postgres-server';
import { startPostgrestStandIn } from './postgrest-standin';
import { newJwtSecret, startSupabaseAuth } from './supabase-auth';
import { forgetMinter, registerMinter, supabaseBackend, type TokenMinter } from './test-backend';

export interface TestApp {
  app: NestExpressApplication;
  /** http://127.0.0.1:<port> */
  url: string;
  config: AppConfig;
  close(): Promise<void>;
}

/** Limits high enough that suites never trip them unless a test lowers one on purpose. */
const TEST_DEFAULTS: Record<string, string> = {
  NODE_ENV: 'test',
  LOG_LEVEL: 'silent',
  PORT: '0',
  RATE_HTTP_PER_MINUTE: '100000',
  RATE_AUTH_PER_MINUTE: '100000',
  RATE_SEND_PER_10S: '100000',
  RATE_TYPING_PER_10S: '100000',
  RATE_AI_PER_MINUTE: '100000',
};

/**
 * Boots the real app on a free loopback port with its own data directory: the embedded database by
 * default, or a Postgres server when `env.DATABASE_URL` is given. Open it once per file (beforeAll).
 */
export async function startTestApp(env: Record<string, string> = {}): Promise<TestApp> {
  const dataDir = await mkdtemp(join(tmpdir(), 'chat-test-'));
  const supabase =
    supabaseBackend() && !env.DATABASE_URL && !env.SUPABASE_URL ? await startSupabaseBackend() : undefined;
  const config = loadConfig({ ...TEST_DEFAULTS, DATA_DIR: dataDir, ...supabase?.env, ...env });
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config), {
    bodyParser: false,
    logger: false,
  });
  await configureApp(app, config);
  await app.listen(0, '127.0.0.1');
  const address = app.getHttpServer().address();
  if (typeof address !== 'object' || address === null) {
    throw new Error('the test app did not bind a port');
  }
  const url = `http://127.0.0.1:${address.port}`;
  if (supabase) {
    registerMinter(url, supabase.mint);
  }
  return {
    app,
    url,
    config,
    async close() {
      await app.close();
      forgetMinter(url);
      await supabase?.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Supabase mode for one app: a fresh migrated database on the test PostgreSQL server, a PostgREST
 * stand-in in front of it, and a fake Supabase Auth whose keys the app trusts.
 */
async function startSupabaseBackend(): Promise<{
  env: Record<string, string>;
  mint: TokenMinter;
  close(): Promise<void>;
}> {
  const databaseUrl = await createDatabase(process.env.TEST_PG_URL ?? '');
  const migrator = new PgDatabase('postgres', { connectionString: databaseUrl, max: 1 });
  try {
    await runMigrations(migrator);
  } finally {
    await migrator.close();
  }
  const auth = await startSupabaseAuth();
  const standIn = await startPostgrestStandIn({ databaseUrl, jwtSecret: newJwtSecret(), auth });
  return {
    env: {
      SUPABASE_URL: standIn.url,
      SUPABASE_ANON_KEY: standIn.anonKey,
      SUPABASE_SERVICE_ROLE_KEY: standIn.serviceRoleKey,
    },
    mint: (username, displayName) =>
      auth.mintToken({
        email: `${username}@example.test`,
        userMetadata: { username, full_name: displayName ?? username },
      }),
    async close() {
      await standIn.close();
      await auth.close();
    },
  };
}

/** An app under test for a describe block, and the sockets its tests open (see `useTestApp`). */
export interface AppUnderTest {
  readonly app: TestApp;
  readonly url: string;
  readonly config: AppConfig;
  readonly sockets: SocketPool;
}

/**
 * For the calling describe block: starts an app (with `env`, or what `env()` gives when it starts) before its tests,
 * closes every socket a test opened through `sockets` after each test, and the app after all.
 */
export function useTestApp(env: Record<string, string> | (() => Record<string, string>) = {}): AppUnderTest {
  let app: TestApp | undefined;
  const started = (): TestApp => {
    if (!app) {
      throw new Error('the app is not started (see the beforeAll error)');
    }
    return app;
  };
  const sockets = new SocketPool(() => started().url);
  beforeAll(async () => {
    app = await startTestApp(typeof env === 'function' ? env() : env);
  });
  afterEach(() => {
    sockets.closeAll();
  });
  afterAll(async () => {
    sockets.closeAll();
    await app?.close();
  });
  return {
    get app() {
      return started();
    },
    get url() {
      return started().url;
    },
    get config() {
      return started().config;
    },
    sockets,
  };
}
