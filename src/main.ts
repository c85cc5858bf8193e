import { loadConfig, loadDotEnv } from './config/app-config';
import { StartupError } from './config/startup-error';
import { prepareEmbeddedDataDir } from './modules/persistence/first-start';

/**
 * The configuration, then a first start's data directory, then the app: the app's modules (~125 MiB resident) load
 * only once the initdb process has exited. Nothing here may import them statically.
 */
async function main(): Promise<void> {
  loadDotEnv();
  const config = loadConfig();
  if (config.database.driver === 'pglite') {
    await prepareEmbeddedDataDir(config.dataDir);
  }
  const { bootstrap } = await import('./bootstrap');
  await bootstrap(config);
}

/** A refusal an operator acts on is one line on stderr; anything else is a bug and keeps its stack. */
main().catch((error: unknown) => {
  const report = error instanceof StartupError ? error.message : error instanceof Error ? error.stack : String(error);
  process.stderr.write(`${report}\n`);
  process.exit(1);
});
