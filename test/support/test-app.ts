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
import { HIGH_RATE_LIMITS, startCluster, type Cluster } from './cluster';
import { SocketPool } from './socket-client';
import { seedDataDir } from './data-template';
import { createDatabase } from './postgres-server';
import { startPostgrestStandIn } from './postgrest-standin';
import { newJwtSecret, startSupabaseAuth } from './supabase-auth';
import { clusterBackend, forgetMinter, registerMinter, supabaseBackend, type TokenMinter } from './test-backend';

export interface TestApp {
  /** The Nest app in this process; none in cluster mode, where reading it throws. */
  readonly app: NestExpressApplication;
  /** http://127.0.0.1:<port> (in cluster mode, the first instance's). */
  readonly url: string;
  /** Every instance's URL: `[url]`, or one per instance in cluster mode. */
  readonly urls: readonly string[];
  /** The config the app runs with (in cluster mode, computed here from the instances' environment). */
  readonly config: AppConfig;
  /** The instances, in cluster mode (the `cluster` jest project). */
  readonly cluster?: Cluster;
  close(): Promise<void>;
}

/** Limits high enough that suites never trip them unless a test lowers one on purpose. */
const TEST_DEFAULTS: Record<string, string> = {
  NODE_ENV: 'test',
  LOG_LEVEL: 'silent',
  PORT: '0',
  ...HIGH_RATE_LIMITS,
};

/**
 * Boots the real app on a free loopback port with its own data directory: the embedded database by
 * default, or a Postgres server when `env.DATABASE_URL` is given. Open it once per file (beforeAll).
 * In the `cluster` jest project it starts two instances instead (see `startClusterApp`).
 */
export async function startTestApp(env: Record<string, string> = {}): Promise<TestApp> {
  if (clusterBackend()) {
    return startClusterApp(env);
  }
  const dataDir = await mkdtemp(join(tmpdir(), 'chat-test-'));
  const supabase =
    supabaseBackend() && !env.DATABASE_URL && !env.SUPABASE_URL ? await startSupabaseBackend() : undefined;
  if (!supabase && !env.DATABASE_URL && !env.SUPABASE_URL && !env.DATA_DIR) {
    await seedDataDir(dataDir);
  }
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
    urls: [url],
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
 * Cluster mode: the app as two processes (`node dist/main.js`) sharing a fresh database on the test PostgreSQL
 * server and a Redis server, with `env` on top of the cluster's environment.
 */
async function startClusterApp(env: Record<string, string>): Promise<TestApp> {
  const cluster = await startCluster({ env });
  let config: AppConfig;
  try {
    config = loadConfig(cluster.env);
  } catch (error) {
    await cluster.close();
    throw error;
  }
  return {
    get app(): NestExpressApplication {
      throw new Error(
        'TestApp.app: in the cluster project the app runs as separate processes, not in this one; ' +
          'use url/urls, or keep this suite out of the cluster project',
      );
    },
    url: cluster.urls[0],
    get urls() {
      return cluster.urls;
    },
    config,
    cluster,
    close: () => cluster.close(),
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
  /**
   * A base URL of the app. With several instances (cluster mode) each read gives the next instance's, starting
   * over from the first in each test, so the users a test signs up with `signUp(t.url)` talk to different instances.
   */
  readonly url: string;
  /** Every instance's URL (one in-process). */
  readonly urls: readonly string[];
  readonly config: AppConfig;
  /** Opens sockets on the instances in turn (see `SocketPool`). */
  readonly sockets: SocketPool;
}

/**
 * For the calling describe block: starts an app (with `env`, or what `env()` gives when it starts) before its tests,
 * closes every socket a test opened through `sockets` after each test, and the app after all. After all it also
 * fails the block if its sockets did not reach every instance (see `expectSocketsOnEveryInstance`).
 */
export function useTestApp(env: Record<string, string> | (() => Record<string, string>) = {}): AppUnderTest {
  let app: TestApp | undefined;
  let turn = 0;
  const started = (): TestApp => {
    if (!app) {
      throw new Error('the app is not started (see the beforeAll error)');
    }
    return app;
  };
  const sockets = new SocketPool(() => started().urls);
  beforeAll(async () => {
    app = await startTestApp(typeof env === 'function' ? env() : env);
  });
  afterEach(() => {
    sockets.closeAll();
    turn = 0;
  });
  afterAll(async () => {
    sockets.closeAll();
    const urls = app?.urls ?? [];
    await app?.close();
    expectSocketsOnEveryInstance(urls, sockets);
  });
  return {
    get app() {
      return started();
    },
    get url() {
      const urls = started().urls;
      return urls[turn++ % urls.length];
    },
    get urls() {
      return started().urls;
    },
    get config() {
      return started().config;
    },
    sockets,
  };
}

/**
 * With several instances, a block whose tests opened two sockets or more must have opened at least one on each
 * instance: otherwise its tests did not test delivery across instances, whatever they assert.
 */
function expectSocketsOnEveryInstance(urls: readonly string[], sockets: SocketPool): void {
  const perUrl = sockets.connectionsPerUrl();
  const total = [...perUrl.values()].reduce((sum, n) => sum + n, 0);
  const missed = urls.filter((url) => !perUrl.get(url));
  if (total >= 2 && missed.length > 0) {
    throw new Error(
      `the tests opened ${total} sockets but none on ${missed.join(', ')} ` +
        `(per URL: ${JSON.stringify(Object.fromEntries(perUrl))}): SocketPool does not spread them over the instances`,
    );
  }
}
