// Proves the Dockerfile without a Docker engine (CI has none): (a) lints it with dockerfile-utils, (b) runs its own
// instructions on this machine (.ci/image-build.mjs), (c) starts the last stage the way the image's CMD would and
// checks what a container would show, then stops it with SIGTERM. Run by `.ci/image-check [--file <Dockerfile>]`;
// deploy/docker/README.md says what it proves and what it cannot.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import process from 'node:process';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  asUser,
  buildImage,
  CheckFailure,
  CONTEXT,
  describeUser,
  fail,
  inStage,
  IS_ROOT,
  makeDirectories,
  prepareNode,
  ROOT_OWNER,
  say,
  seconds,
  SYSTEM_PATH,
} from './image-build.mjs';

const READY_TIMEOUT_MS = 90_000;
const STOP_TIMEOUT_MS = 15_000;
/** What the image's working directory must not hold. */
const NOT_SHIPPED = ['src', 'test', 'bench', 'tools', 'coverage', 'data', '.git', '.env'];

const require = createRequire(import.meta.url);
const { validate } = require('dockerfile-utils');
/** The app while it runs, for an interrupted check to stop. */
let running;

async function main() {
  const started = performance.now();
  const dockerfile = path.resolve(CONTEXT, argument('--file') ?? 'Dockerfile');
  const shown = dockerfile.startsWith(`${CONTEXT}/`) ? path.relative(CONTEXT, dockerfile) : dockerfile;
  const text = fs.readFileSync(dockerfile, 'utf8');
  lint(text, shown);

  const work = fs.mkdtempSync(path.join(tmpdir(), 'image-check-'));
  fs.chmodSync(work, 0o755); // the image's user reaches its stage through here
  // rm(1): fs.rmSync takes minutes over the two node_modules trees on a slow disk.
  const cleanup = () => spawnSync('rm', ['-rf', '--', work], { stdio: 'inherit' });
  const interrupted = () => {
    running?.kill('SIGKILL');
    cleanup();
    process.exit(130);
  };
  process.once('SIGINT', interrupted).once('SIGTERM', interrupted);
  try {
    const node = prepareNode(work);
    const stages = buildImage(text, shown, { work, node });
    await runImage(stages.at(-1), { work, node });
    say(`image-check: the image built, started, served and stopped (${seconds(started)})`);
  } finally {
    cleanup();
  }
}

function argument(name) {
  const at = process.argv.indexOf(name);
  return at === -1 ? undefined : (process.argv[at + 1] ?? fail(`${name} needs a value`));
}

// ---- (a) lint ----

function lint(text, shown) {
  const { version } = require('dockerfile-utils/package.json');
  const problems = validate(text);
  for (const { range, severity, message } of problems) {
    say(
      `${shown}:${range.start.line + 1}:${range.start.character + 1}: ${severity === 1 ? 'error' : 'warning'}: ${message}`,
    );
  }
  if (problems.length > 0) {
    fail(`${shown}: dockerfile-utils ${version} found ${problems.length} problem(s)`);
  }
  say(`lint: ${shown}: no errors or warnings (dockerfile-utils ${version})`);
}

// ---- (c) the container ----

async function runImage(stage, tools) {
  const cmd = stage.cmd ?? fail(`the last stage (${stage.name}) has no CMD`);
  if (!stage.user || stage.user.uid === 0) {
    fail(`the image runs as root: give its last stage USER <uid>:<gid>`);
  }
  // Not root, this check cannot switch users, nor give files away: ownership is then the current user's throughout.
  const expected = IS_ROOT ? stage.user : { uid: process.getuid(), gid: process.getgid() };
  const volume = dataVolume(stage, expected);
  const app = await start(stage, cmd, volume, expected, tools);
  let showLog = true; // the app's log tells why it did not start or stop, not why a check failed
  try {
    const started = performance.now();
    await waitReady(`${app.base}/health/ready`, app.exited);
    say(`ready: GET /health/ready 200 after ${seconds(started)}`);
    showLog = false;
    checkProcess(app.child.pid, expected, path.join(tools.node.bin, 'node'));
    await checkServes(app.base);
    checkShipped(inStage(stage, stage.workdir), volume, expected);
    checkReadOnly(stage.root, volume, expected);
    showLog = true;
    const stopping = performance.now();
    app.child.kill('SIGTERM');
    const outcome = await Promise.race([app.exited, sleep(STOP_TIMEOUT_MS, undefined, { ref: false })]);
    if (outcome?.code !== 0) {
      const how = outcome
        ? `exited with ${outcome.code ?? outcome.signal}`
        : `still running after ${STOP_TIMEOUT_MS / 1000} s`;
      fail(`SIGTERM: ${how}`);
    }
    say(`stop: SIGTERM, exit 0 after ${seconds(stopping)}`);
  } catch (error) {
    if (showLog) {
      say(`app log (last lines):\n${fs.readFileSync(app.log, 'utf8').split('\n').slice(-30).join('\n')}`);
    }
    throw error;
  } finally {
    if (app.child.exitCode === null && app.child.signalCode === null) {
      app.child.kill('SIGKILL');
      await app.exited;
    }
  }
}

/** DATA_DIR's directory in the image: a VOLUME, and the app's user's, as a new named volume copies its owner. */
function dataVolume(stage, expected) {
  const dataDir = stage.env.DATA_DIR ?? fail('the image sets no DATA_DIR');
  if (!stage.volumes.includes(path.posix.resolve('/', dataDir))) {
    fail(`DATA_DIR=${dataDir} is not a VOLUME: the database would live in the container's writable layer`);
  }
  const volume = inStage(stage, dataDir);
  const owner = fs.statSync(volume).uid;
  if (owner !== expected.uid) {
    fail(`${dataDir} belongs to uid ${owner} in the image: uid ${expected.uid} could not write a new volume there`);
  }
  return volume;
}

/** CMD's argv in the working directory, as the image's user, with the image's ENV and what a deployment sets. */
async function start(stage, cmd, volume, expected, { work, node }) {
  const tmp = path.join(work, 'tmp'); // the container's /tmp (an emptyDir under a read-only root filesystem)
  makeDirectories(tmp, IS_ROOT ? expected : ROOT_OWNER);
  const port = await freePort();
  const env = {
    ...stage.env,
    PATH: [node.bin, ...SYSTEM_PATH].join(':'),
    HOME: stage.root, // a uid without a passwd entry gets HOME=/
    TMPDIR: tmp,
    PORT: String(port),
    DATA_DIR: volume,
    ALLOW_EMBEDDED_DATABASE: 'true',
    LOCAL_JWT_SECRET: randomBytes(36).toString('base64url'),
  };
  const cwd = inStage(stage, stage.workdir);
  const log = path.join(work, 'app.log');
  const output = fs.openSync(log, 'a');
  const [command, ...args] = asUser(stage.user, cmd);
  say(`start: ${JSON.stringify(cmd)} in ${cwd} as ${describeUser(stage.user)}`);
  say(`  env: ${Object.keys(stage.env).join(', ')} of the image; PORT=${port}, DATA_DIR=${volume} (the volume),`);
  say(`       ALLOW_EMBEDDED_DATABASE=true, LOCAL_JWT_SECRET=<48 random characters>, TMPDIR=${tmp} (for /tmp)`);
  const child = spawn(command, args, { cwd, env, stdio: ['ignore', output, output] });
  running = child;
  fs.closeSync(output);
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return { child, exited, log, base: `http://127.0.0.1:${port}` };
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer().once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function waitReady(url, exited) {
  const deadline = performance.now() + READY_TIMEOUT_MS;
  let gone;
  void exited.then((outcome) => (gone = outcome));
  while (performance.now() < deadline) {
    if (gone) {
      fail(`the app exited with ${gone.code ?? gone.signal} before it was ready`);
    }
    const status = await fetch(url, { signal: AbortSignal.timeout(2_000) }).then(
      (response) => response.status,
      () => undefined,
    );
    if (status === 200) {
      return;
    }
    await sleep(250);
  }
  fail(`GET /health/ready did not answer 200 within ${READY_TIMEOUT_MS / 1000} s`);
}

function checkProcess(pid, expected, node) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const ids = (field) => new RegExp(`^${field}:\\s+(.+)$`, 'm').exec(status)?.[1].split(/\s+/).map(Number) ?? [];
  const uids = ids('Uid');
  const gids = ids('Gid');
  if (
    uids.length !== 4 ||
    gids.length !== 4 ||
    uids.some((id) => id !== expected.uid) ||
    gids.some((id) => id !== expected.gid)
  ) {
    fail(
      `process ${pid} runs as uids ${uids.join(' ')}, gids ${gids.join(' ')}: expected ${expected.uid}:${expected.gid}`,
    );
  }
  const executable = fs.readlinkSync(`/proc/${pid}/exe`);
  if (executable !== node) {
    fail(`process ${pid} is ${executable}, not the image's node (${node})`);
  }
  say(`check: process ${pid} is node, real/effective/saved/fs uid ${expected.uid} and gid ${expected.gid}`);
}

async function checkServes(base) {
  const page = await fetch(`${base}/`);
  if (page.status !== 200 || !page.headers.get('content-type')?.startsWith('text/html')) {
    fail(`GET / answered ${page.status} ${page.headers.get('content-type')}: public/ is not served`);
  }
  const registered = await fetch(`${base}/api/auth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      username: `image_check_${randomBytes(4).toString('hex')}`,
      password: randomBytes(12).toString('hex'),
    }),
  });
  const body = await registered.json().catch(() => ({}));
  if (registered.status !== 201 || typeof body.accessToken !== 'string') {
    fail(`POST /api/auth/register answered ${registered.status} ${JSON.stringify(body)}`);
  }
  say('check: GET / 200 text/html (public/ served); POST /api/auth/register 201 (migrations applied, data written)');
}

function checkShipped(appDir, volume, expected) {
  const entries = fs.readdirSync(appDir).sort();
  const shipped = entries.filter((entry) => NOT_SHIPPED.includes(entry));
  if (shipped.length > 0) {
    fail(`the image's working directory holds ${shipped.join(', ')}`);
  }
  const lock = JSON.parse(fs.readFileSync(path.join(CONTEXT, 'package-lock.json'), 'utf8'));
  const devOnly = Object.entries(lock.packages)
    .filter(([key, entry]) => key && entry.dev)
    .map(([key]) => key);
  const present = devOnly.filter((key) => fs.existsSync(path.join(appDir, key)));
  if (present.length > 0) {
    fail(`node_modules holds ${present.length} dev-only packages: ${present.slice(0, 10).join(', ')}`);
  }
  for (const name of ['jest', 'typescript', 'eslint', '@nestjs/cli']) {
    if (fs.existsSync(path.join(appDir, 'node_modules', name))) {
      fail(`node_modules holds ${name}`);
    }
  }
  const written = fs.readdirSync(volume);
  const foreign = written.filter((entry) => fs.lstatSync(path.join(volume, entry)).uid !== expected.uid);
  if (written.length === 0 || foreign.length > 0) {
    fail(
      `the volume holds ${written.length} entries${foreign.length > 0 ? `, not uid ${expected.uid}'s: ${foreign.join(', ')}` : ''}`,
    );
  }
  say(`check: the working directory holds ${entries.join(', ')}; none of ${NOT_SHIPPED.join(', ')}`);
  say(`check: none of the ${devOnly.length} dev-only packages of package-lock.json (jest, typescript, …) is installed`);
  say(`check: the volume holds ${written.join(', ')}, written by uid ${expected.uid}`);
}

/** A read-only root filesystem changes nothing for the app if it cannot write anywhere in the image but the volume. */
function checkReadOnly(root, volume, expected) {
  if (!IS_ROOT) {
    say('check: skipped "nothing but the volume is writable" (every file here belongs to this user: not root)');
    return;
  }
  const writable = [];
  const walk = (entry) => {
    const stat = fs.lstatSync(entry);
    if (entry === volume || stat.isSymbolicLink()) {
      return;
    }
    if (stat.uid === expected.uid || (stat.gid === expected.gid && stat.mode & 0o020) || stat.mode & 0o002) {
      writable.push(path.relative(root, entry));
    }
    if (stat.isDirectory()) {
      fs.readdirSync(entry).forEach((child) => walk(path.join(entry, child)));
    }
  };
  walk(root);
  if (writable.length > 0) {
    fail(`uid ${expected.uid} can write ${writable.length} paths of the image: ${writable.slice(0, 10).join(', ')}`);
  }
  say(`check: uid ${expected.uid} can write nothing of the image but the volume (a read-only root filesystem fits)`);
}

main().catch((error) => {
  process.stderr.write(`image-check: FAILED: ${error instanceof CheckFailure ? error.message : error.stack}\n`);
  process.exit(1);
});
