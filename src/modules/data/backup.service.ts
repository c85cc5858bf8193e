import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { Counter, Gauge } from 'prom-client';
import { APP_CONFIG, type AppConfig } from '../../config/app-config';
import { MetricsService } from '../metrics/metrics.service';
import { DATABASE, type Database } from '../persistence/database.port';
import { PgDatabase } from '../persistence/drivers/pg.database';
import { exportLines } from './data-exporter';
import { writeExportFile } from './export-file';

const PREFIX = 'chat-backup-';
const SUFFIX = '.ndjson.gz';

/**
 * Automatic backups (BACKUP_INTERVAL): an export file into BACKUP_DIR at the start and every interval, written
 * atomically (export-file.ts), the newest BACKUP_KEEP kept. Read in short batches like `npm run export`, so sends go
 * on meanwhile. `chat_backup_last_success_timestamp_seconds` tells an alert when they stop.
 */
@Injectable()
export class BackupService implements OnApplicationBootstrap, OnModuleDestroy {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private readonly abort = new AbortController();
  private readonly lastSuccess: Gauge;
  private readonly failures: Counter;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(DATABASE) private readonly db: Database,
    metrics: MetricsService,
    @InjectPinoLogger(BackupService.name) private readonly logger: PinoLogger,
  ) {
    const registers = [metrics.registry];
    const last = 'When the last automatic backup was written (Unix time; 0: none yet since the start)';
    this.lastSuccess = new Gauge({ name: 'chat_backup_last_success_timestamp_seconds', help: last, registers });
    const failures = 'Automatic backups that failed';
    this.failures = new Counter({ name: 'chat_backup_failures_total', help: failures, registers });
    const interval = 'BACKUP_INTERVAL in seconds (0: automatic backups are off)';
    new Gauge({ name: 'chat_backup_interval_seconds', help: interval, registers }).set(
      (config.backup.intervalMs ?? 0) / 1000,
    );
  }

  onApplicationBootstrap(): void {
    const { intervalMs } = this.config.backup;
    if (intervalMs === undefined || !(this.db instanceof PgDatabase)) {
      return;
    }
    const tick = () => {
      this.running ??= this.backUp().finally(() => (this.running = undefined));
    };
    this.timer = setInterval(tick, intervalMs);
    tick();
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.timer);
    this.abort.abort();
    await this.running;
  }

  /** Writes one backup and prunes the old ones; a failure is logged and counted, never thrown. */
  async backUp(): Promise<void> {
    const db = this.db as PgDatabase;
    const { dir, keep } = this.config.backup;
    const started = performance.now();
    const file = join(dir, `${PREFIX}${new Date().toISOString().replace(/[:.]/g, '-')}${SUFFIX}`);
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const secret = this.config.auth.mode === 'local' ? this.config.auth.localJwtSecret : undefined;
      const { bytes } = await writeExportFile(
        file,
        exportLines(db, { driver: db.driver, localJwtSecret: secret, signal: this.abort.signal }),
      );
      const removed = await prune(dir, keep);
      this.lastSuccess.set(Date.now() / 1000);
      this.logger.info(
        { file, bytes, removed: removed.length, durationMs: Math.round(performance.now() - started) },
        'backup written',
      );
    } catch (error) {
      if (this.abort.signal.aborted) {
        this.logger.info({ file }, 'backup cancelled by shutdown');
        return;
      }
      this.failures.inc();
      this.logger.error({ err: error, file, durationMs: Math.round(performance.now() - started) }, 'backup failed');
    }
  }
}

/** Removes all but the newest `keep` backups of `dir` (their names sort by time); returns what it removed. */
async function prune(dir: string, keep: number): Promise<string[]> {
  const backups = (await readdir(dir)).filter((f) => f.startsWith(PREFIX) && f.endsWith(SUFFIX)).sort();
  const old = backups.slice(0, Math.max(0, backups.length - keep));
  await Promise.all(old.map((f) => rm(join(dir, f), { force: true })));
  return old;
}
