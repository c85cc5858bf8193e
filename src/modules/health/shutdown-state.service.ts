import { Injectable, type BeforeApplicationShutdown } from '@nestjs/common';

/** Flips when shutdown starts, so readiness answers 503 before anything closes. */
@Injectable()
export class ShutdownState implements BeforeApplicationShutdown {
  private shuttingDown = false;

  get isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  begin(): void {
    this.shuttingDown = true;
  }

  beforeApplicationShutdown(): void {
    this.begin();
  }
}
