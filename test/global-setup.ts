import { execFileSync } from 'node:child_process';
import { DATA_TEMPLATE_ENV, makeDataTemplate } from './support/data-template';
import { startPostgresServer, type PostgresServer } from './support/postgres-server';

declare global {
  var __PG_SERVER__: PostgresServer | undefined;
}

/**
 * jest globalSetup: builds dist/ and the page's bundle once, makes the embedded data template, and starts one real
 * PostgreSQL server for the whole run. Workers inherit TEST_PG_URL and the template's place.
 * If TEST_PG_URL is already set, that server is used and nothing is started.
 */
export default async function globalSetup(): Promise<void> {
  // Suites that run the server as a process (node dist/main.js) need the current build.
  execFileSync('npx', ['nest', 'build'], { stdio: 'inherit' });
  // The demo page's bundle (public/build/), which the browser tests load.
  execFileSync(process.execPath, ['web/build.mjs'], { stdio: 'inherit' });
  // In-process test apps start from a copy of one migrated embedded cluster (support/data-template.ts).
  process.env[DATA_TEMPLATE_ENV] ??= await makeDataTemplate();
  if (process.env.TEST_PG_URL) {
    return;
  }
  const server = await startPostgresServer();
  globalThis.__PG_SERVER__ = server;
  process.env.TEST_PG_URL = server.url;
}
