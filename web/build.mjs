// Bundles the demo page (web/src, on the SDK in client/src) into public/build/ with esbuild. Run by `npm run build`,
// `npm start`, jest's global setup and the Dockerfile; the output is not committed (.gitignore).
import { build } from 'esbuild';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));

await build({
  entryPoints: [path.join(root, 'web/src/main.ts')],
  outfile: path.join(root, 'public/build/app.js'),
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: ['es2020'],
  minify: true,
  sourcemap: 'linked',
  legalComments: 'linked',
  logLevel: 'warning',
});
