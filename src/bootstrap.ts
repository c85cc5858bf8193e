import { beforeDeadline } from './common/async/before-deadline';
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { PinoLogger } from 'nestjs-pino';
import { AppModule } from './app.module';
import { configureApp } from './app.setup';
import type { AppConfig } from './config/app-config';
import { listenRefusal } from './config/startup-error';
import { DrainService, drainPlan } from './modules/chat/drain.service';

/** The app, loaded by `main.ts` once the configuration is read (and a first start's data directory made). */
export async function bootstrap(config: AppConfig): Promise<void> {
  // A failed start is reported by us, not by Nest: its own report (a stack) stays in the log buffer, which is
  // flushed into the JSON log once the app stands.
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config), {
    bodyParser: false,
    bufferLogs: true,
    autoFlushLogs: false,
    abortOnError: false,
  });
  await configureApp(app, config);
  app.flushLogs();
  const logger = await app.resolve(PinoLogger);
  logger.setContext('Bootstrap');

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      return;
    }
    stopping = true;
    const plan = drainPlan(config.shutdownDrainMs, config.shutdownTimeoutMs);
    logger.info({ signal, drainMs: config.shutdownDrainMs, timeoutMs: config.shutdownTimeoutMs }, 'shutting down');
    setTimeout(() => {
      logger.error({ timeoutMs: plan.exitAt }, 'shutdown took too long, exiting');
      process.exit(1);
    }, plan.exitAt).unref();
    app
      .get(DrainService)
      .drain()
      .then(() => app.close())
      .then(
        () => process.exit(0),
        (error: unknown) => {
          logger.error({ err: error }, 'shutdown failed');
          process.exit(1);
        },
      );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);

  try {
    await app.listen(config.port);
  } catch (error) {
    const refusal = listenRefusal(error, config.port);
    if (!refusal) {
      throw error;
    }
    // The database is closed as on any stop (and DATA_DIR let go), within the time a stop has.
    await beforeDeadline(
      app.close().catch(() => undefined),
      config.shutdownTimeoutMs,
      () => undefined,
    );
    throw refusal;
  }
  const address = app.getHttpServer().address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  logger.info({ port, driver: config.database.driver }, `listening on port ${port}`);
}
