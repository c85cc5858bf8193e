import { Global, Inject, Injectable, Module, type OnApplicationShutdown } from '@nestjs/common';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { APP_CONFIG, type AppConfig } from '../../config/app-config';
import { connectPostgres, targetOf } from './database-connect';
import { DATABASE, type Database } from './database.port';
import { EMBEDDED_ANALYZE } from './drivers/embedded-analyze';
import { EMBEDDED_CHECKPOINTS } from './drivers/embedded-checkpoints';
import { EMBEDDED_FREEZE } from './drivers/embedded-freeze';
import { startEmbeddedDatabase } from './drivers/embedded.database';
import { SERVER_GROUP_COMMIT, type PgDatabase } from './drivers/pg.database';
import { SupabaseDatabase } from './drivers/supabase.database';
import { runMigrations } from './migration-runner';

/**
 * Opens the configured driver and brings its schema up to date before anything serves. A Postgres server that is not
 * reachable yet is waited for (DATABASE_CONNECT_TIMEOUT_MS); the embedded engine refuses a DATA_DIR in use.
 */
async function openDatabase(config: AppConfig, logger: PinoLogger): Promise<Database> {
  const started = performance.now();
  let db: PgDatabase;
  switch (config.database.driver) {
    case 'pglite':
      db = await startEmbeddedDatabase(config.dataDir, {
        callTimeoutMs: config.database.callTimeoutMs,
        checkpoints: {
          ...EMBEDDED_CHECKPOINTS,
          onCheckpoint: (done) =>
            logger.info(
              { durationMs: Math.round(done.durationMs), walBytes: done.walBytes },
              'embedded database checkpoint',
            ),
          onError: (err) => logger.warn({ err }, 'embedded database checkpoint failed, trying again later'),
        },
        analyze: {
          ...EMBEDDED_ANALYZE,
          onAnalyze: (done) =>
            logger.info({ tables: done.tables, durationMs: Math.round(done.durationMs) }, 'embedded database analyzed'),
          onError: (err) => logger.warn({ err }, 'embedded database analyze failed, trying again later'),
        },
        freeze: {
          ...EMBEDDED_FREEZE,
          onFreeze: (done) =>
            logger.info({ tables: done.tables, durationMs: Math.round(done.durationMs) }, 'embedded database frozen'),
          onError: (err) => logger.warn({ err }, 'embedded database freeze failed, trying again later'),
        },
      });
      break;
    case 'postgres': {
      const database = targetOf(config.database.url ?? '');
      const groupCommit = { ...SERVER_GROUP_COMMIT, maxInFlight: config.database.groupLanes };
      db = await connectPostgres(config.database, { max: 10, groupCommit }, (retry) =>
        logger.warn({ ...retry, database }, 'database not reachable yet, retrying'),
      );
      break;
    }
    case 'supabase': {
      // A Supabase project takes the migrations with `supabase db push`; the server only calls them.
      const supabase = new SupabaseDatabase({
        url: config.supabase.url ?? '',
        anonKey: config.supabase.anonKey,
        serviceRoleKey: config.supabase.serviceRoleKey ?? '',
        callTimeoutMs: config.database.callTimeoutMs,
      });
      logger.info({ driver: supabase.driver, authMode: config.auth.mode }, 'database ready');
      return supabase;
    }
  }
  try {
    const applied = await runMigrations(db);
    logger.info(
      {
        driver: db.driver,
        authMode: config.auth.mode,
        migrationsApplied: applied.length,
        // What the sends' group commit runs with: the operator's DATABASE_GROUP_LANES on a server, taken.
        groupCommit: { maxSize: db.groupCommit.maxSize, lanes: db.groupCommit.maxInFlight },
        durationMs: Math.round(performance.now() - started),
      },
      'database ready',
    );
  } catch (error) {
    await db.close();
    throw error;
  }
  return db;
}

@Injectable()
class DatabaseCloser implements OnApplicationShutdown {
  constructor(
    @Inject(DATABASE) private readonly db: Database,
    @InjectPinoLogger('Database') private readonly logger: PinoLogger,
  ) {}

  /** Runs after the HTTP server stopped taking requests, so no acknowledged write is cut off. */
  async onApplicationShutdown(): Promise<void> {
    await this.db.close();
    this.logger.info({ driver: this.db.driver }, 'database closed');
  }
}

@Global()
@Module({
  providers: [
    {
      provide: DATABASE,
      inject: [APP_CONFIG, PinoLogger],
      useFactory: (config: AppConfig, logger: PinoLogger) => {
        logger.setContext('Database');
        return openDatabase(config, logger);
      },
    },
    DatabaseCloser,
  ],
  exports: [DATABASE],
})
export class PersistenceModule {}
