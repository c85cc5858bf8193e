import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppModule } from '../../src/app.module';
import { configureApp } from '../../src/app.setup';
import { loadConfig, type AppConfig } from '../../src/config/app-config';

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
  const config = loadConfig({ ...TEST_DEFAULTS, DATA_DIR: dataDir, ...env });
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
  return {
    app,
    url: `http://127.0.0.1:${address.port}`,
    config,
    async close() {
      await app.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
