import { Inject, Injectable } from '@nestjs/common';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import { DATABASE, type Database } from '../persistence/database.port';

/** The database is up when it answers a ping within this: readiness and `chat_dependency_up` ask the same. */
export const DATABASE_PING_TIMEOUT_MS = 1500;

@Injectable()
export class DatabaseHealthIndicator {
  constructor(
    @Inject(DATABASE) private readonly db: Database,
    private readonly indicators: HealthIndicatorService,
  ) {}

  async check(key = 'database'): Promise<HealthIndicatorResult> {
    const indicator = this.indicators.check(key);
    try {
      await this.db.ping(DATABASE_PING_TIMEOUT_MS);
      return indicator.up({ driver: this.db.driver });
    } catch {
      return indicator.down({ driver: this.db.driver, message: 'the database did not answer' });
    }
  }
}
