import { Gauge, Histogram, type Registry } from 'prom-client';
import type { Database } from '../persistence/database.port';

/**
 * The database pool on /metrics: its size limit, connections open and idle, calls waiting for one (for the
 * embedded engine, which serves one session, its queue) — read at each scrape — and how long calls waited for a
 * connection. Nothing for Supabase's HTTP calls, which hold no pool here.
 */
export function watchPool(registry: Registry, db: Database): Histogram {
  const registers = [registry];
  const state = () => db.poolState?.();
  const gauge = (name: string, help: string, read: (s: NonNullable<ReturnType<typeof state>>) => number) =>
    new Gauge({
      name,
      help,
      registers,
      collect() {
        const now = state();
        if (now) {
          this.set(read(now));
        }
      },
    });
  gauge('db_pool_max_connections', 'The pool’s size limit (1 for the embedded engine)', (s) => s.max);
  gauge('db_pool_connections', 'Connections the pool holds open', (s) => s.total);
  gauge('db_pool_idle_connections', 'Open connections no call is using', (s) => s.idle);
  gauge('db_pool_waiting_calls', 'Calls waiting for a connection (the embedded engine: its queue)', (s) => s.waiting);
  const help = 'How long a database call waited for a pooled connection';
  const buckets = [0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
  return new Histogram({ name: 'db_pool_acquire_seconds', help, buckets, registers });
}
