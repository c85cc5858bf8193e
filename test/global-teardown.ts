import { removeDataTemplate } from './support/data-template';
import type { PostgresServer } from './support/postgres-server';

declare global {
  var __PG_SERVER__: PostgresServer | undefined;
}

/**
 * jest globalTeardown: removes the data template and stops the server started by global-setup (no server if the
 * caller supplied TEST_PG_URL).
 */
export default async function globalTeardown(): Promise<void> {
  await removeDataTemplate();
  const server = globalThis.__PG_SERVER__;
  if (!server) {
    return;
  }
  globalThis.__PG_SERVER__ = undefined;
  // Unset the URL we exported so a following run in the same process (watch mode) starts a new server.
  if (process.env.TEST_PG_URL === server.url) {
    delete process.env.TEST_PG_URL;
  }
  await server.stop();
}
