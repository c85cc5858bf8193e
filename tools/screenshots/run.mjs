// `npm run screenshots`: bundles screenshots.ts with esbuild (its imports stay in node_modules) and runs it.
import { build } from 'esbuild';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const root = path.resolve(import.meta.dirname ?? path.dirname(new URL(import.meta.url).pathname), '..', '..');
// Inside node_modules/ (ignored everywhere) so that the bundle's require() finds the project's packages.
const outfile = path.join(root, 'node_modules', '.cache', 'screenshots', 'screenshots.cjs');
await build({
  entryPoints: [path.join(root, 'tools/screenshots/screenshots.ts')],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  packages: 'external',
  logLevel: 'warning',
});
await import(pathToFileURL(outfile).href);
