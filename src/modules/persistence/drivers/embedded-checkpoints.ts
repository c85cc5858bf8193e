import { PeriodicLook } from './periodic-look';

/**
 * Checkpoints for the embedded engine. PGlite runs Postgres as a single-user backend, which has no checkpointer
 * process: `max_wal_size` and `checkpoint_timeout` do nothing there, and nothing but a shutdown checkpoints. Left
 * alone, the WAL grows with every message for as long as the server runs, without bound, each new
 * 16 MB segment is zero-filled while every commit waits (a 137–230 ms stall measured, bench/README.md "Profiles"),
 * and a crash replays the WAL since the server started. So the app asks for one: every `everyMs` it reads how much
 * WAL the last checkpoint left behind, and past `walBytes` runs `CHECKPOINT` on the engine's one connection (queued
 * behind the calls before it, like any other). After a checkpoint Postgres recycles the old segments instead of
 * making new ones, the WAL stays within ~`walBytes` plus `min_wal_size`, and recovery replays at most that. The
 * engine's worker syncs every data file the checkpoint wrote before its control file says so (durable-files.js).
 */
export interface EmbeddedCheckpointOptions {
  /** Checkpoint once the WAL since the last one is this large. */
  walBytes: number;
  /** How often to look. */
  everyMs: number;
  /** Told after each checkpoint, with how long it took and how much WAL it covered (logs, tests). */
  onCheckpoint?: (done: { durationMs: number; walBytes: number }) => void;
  /** Told when a look or a checkpoint failed; the next look tries again. */
  onError?: (error: unknown) => void;
}

export const EMBEDDED_CHECKPOINTS: EmbeddedCheckpointOptions = { walBytes: 64 * 1024 * 1024, everyMs: 30_000 };

/** The WAL written since the redo point of the last checkpoint, in bytes. */
const PENDING_WAL_SQL =
  'select (pg_current_wal_lsn() - redo_lsn)::bigint::text as pending from pg_control_checkpoint()';

export class EmbeddedCheckpoints extends PeriodicLook<boolean> {
  constructor(
    private readonly db: { query<Row>(sql: string): Promise<Row[]> },
    private readonly options: EmbeddedCheckpointOptions = EMBEDDED_CHECKPOINTS,
  ) {
    super(options.everyMs);
  }

  /** One look: true when it checkpointed. */
  protected async look(): Promise<boolean> {
    try {
      const [row] = await this.db.query<{ pending: string }>(PENDING_WAL_SQL);
      const pending = Number(row?.pending ?? 0);
      if (pending < this.options.walBytes) {
        return false;
      }
      const started = performance.now();
      await this.db.query('checkpoint');
      this.options.onCheckpoint?.({ durationMs: performance.now() - started, walBytes: pending });
      return true;
    } catch (error) {
      this.options.onError?.(error);
      return false;
    }
  }
}
