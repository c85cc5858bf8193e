/**
 * The persistence contract through PgBouncer in transaction pooling mode (README "Run it on a Postgres server"):
 * each call is one transaction that sets the caller's role and claims with set_config(..., true), so consecutive
 * calls of one client may run on different server connections and nothing of one leaks into the next.
 */
import { createDatabase } from '../support/postgres-server';
import { startPgBouncer, type PgBouncer } from '../support/pgbouncer';
import { openPostgresDriver } from '../support/persistence-drivers';
import { openOncePerFile, persistenceContract, rawRlsContract } from './persistence-contract';
import { refreshTokensContract, refreshTokensRlsContract } from './refresh-tokens-contract';

let bouncer: PgBouncer | undefined;

const driver = openOncePerFile(async () => {
  const url = new URL(await createDatabase(process.env.TEST_PG_URL ?? ''));
  bouncer = await startPgBouncer({ port: Number(url.port) });
  const name = decodeURIComponent(url.pathname.slice(1));
  const opened = await openPostgresDriver({ host: bouncer.host, port: bouncer.port, user: 'postgres', database: name });
  return {
    ...opened,
    async close() {
      await opened.close();
      await bouncer?.stop();
    },
  };
});

persistenceContract('postgres through pgbouncer', driver);
rawRlsContract('postgres through pgbouncer', driver);
refreshTokensContract('postgres through pgbouncer', driver);
refreshTokensRlsContract('postgres through pgbouncer', driver);
