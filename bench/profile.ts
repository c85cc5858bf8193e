/**
 * Where a target's CPU goes per send, from the V8 CPU profiles of a `--profile DIR` run:
 *
 *   node bench/dist/bench/profile.js bench/results/<run>.json DIR [--top N]
 *
 * Takes the samples inside the fixed-rate phase's repeats (each side's own reading window, stored in the results)
 * from every profile in `DIR/app/` and `DIR/relay/` (one file per thread: the main thread, and the embedded engine's
 * worker), and prints µs of CPU per acked send by component (a package under node_modules, Node's own modules, the
 * app's source, V8's garbage collector, WebAssembly) and by function. Samples are taken every ~1 ms of CPU
 * (`--cpu-prof-interval`), so a component below ~1 % of a thread is noise.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}
interface Window {
  startUs: number;
  endUs: number;
}

/** The part of the code a frame belongs to. */
export function component(url: string, functionName: string): string {
  if (url === '') {
    // (garbage collector), (program), (idle), (root), and native frames without a script.
    return functionName.startsWith('(') ? functionName : `native ${functionName}`;
  }
  if (url.startsWith('wasm://')) {
    return 'WebAssembly';
  }
  const modules = url.lastIndexOf('/node_modules/');
  if (modules >= 0) {
    const parts = url.slice(modules + '/node_modules/'.length).split('/');
    return parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
  }
  if (url.startsWith('node:')) {
    // node:internal/streams/writable → node:streams; node:events → node:events
    const name = url.slice('node:'.length).replace(/^internal\//, '');
    return `node:${name.split('/')[0]}`;
  }
  const dist = url.match(/\/dist\/(?:src\/)?(.*)$/);
  return dist ? `app ${dist[1].split('/').slice(0, 2).join('/')}` : url;
}

/** µs of self time by key over the samples inside the windows. */
export function selfTime(profile: CpuProfile, windows: Window[], key: (n: ProfileNode) => string): Map<string, number> {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const out = new Map<string, number>();
  let t = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i];
    // A sample's time is charged from the previous sample to it: what the next delta says it took.
    const spent = profile.timeDeltas[i + 1] ?? 0;
    if (!windows.some((w) => t >= w.startUs && t < w.endUs)) {
      continue;
    }
    const node = byId.get(profile.samples[i]);
    if (!node || node.callFrame.functionName === '(idle)') {
      continue;
    }
    const k = key(node);
    out.set(k, (out.get(k) ?? 0) + spent);
  }
  return out;
}

function print(title: string, totals: Map<string, number>, sends: number, top: number): void {
  const all = [...totals.values()].reduce((a, b) => a + b, 0);
  console.log(`\n${title}: ${Math.round(all / sends)} µs per send (${sends} sends)`);
  for (const [k, us] of [...totals].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`  ${(us / sends).toFixed(1).padStart(8)} µs  ${((100 * us) / all).toFixed(1).padStart(5)} %  ${k}`);
  }
}

/** What one thread did during each of the slowest acks: ms busy by its top components (the rest was idle). */
function printStalls(label: string, profile: CpuProfile, acks: { fromUs: number; ms: number }[]): void {
  console.log(`\n${label}, during the slowest acks (ms busy, by component):`);
  for (const ack of acks) {
    const span = [{ startUs: ack.fromUs, endUs: ack.fromUs + ack.ms * 1000 }];
    const busy = selfTime(profile, span, (n) => component(n.callFrame.url, n.callFrame.functionName));
    const total = [...busy.values()].reduce((a, b) => a + b, 0);
    const parts = [...busy]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 4)
      .map(([k, us]) => `${k} ${(us / 1000).toFixed(1)}`);
    console.log(
      `  ack ${ack.ms.toFixed(1).padStart(6)} ms: busy ${(total / 1000).toFixed(1).padStart(5)}  ${parts.join(', ')}`,
    );
  }
}

/** The stacks a thread spent the slowest ack in (a sampled function and its callers), ms each. */
function printStacks(label: string, profile: CpuProfile, ack: { fromUs: number; ms: number }): void {
  const parents = new Map<number, number>();
  for (const n of profile.nodes as (ProfileNode & { children?: number[] })[]) {
    for (const child of n.children ?? []) {
      parents.set(child, n.id);
    }
  }
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const stacks = selfTime(profile, [{ startUs: ack.fromUs, endUs: ack.fromUs + ack.ms * 1000 }], (node) => {
    const frames: string[] = [];
    for (let id: number | undefined = node.id; id !== undefined && frames.length < 5; id = parents.get(id)) {
      const f = (byId.get(id) as ProfileNode).callFrame;
      frames.push(`${f.functionName || '(anonymous)'} (${component(f.url, f.functionName)})`);
    }
    return frames.join(' < ');
  });
  console.log(`\n${label}, stacks during the slowest ack (${ack.ms.toFixed(1)} ms):`);
  for (const [k, us] of [...stacks].sort((a, b) => b[1] - a[1]).slice(0, 6)) {
    console.log(`  ${(us / 1000).toFixed(1).padStart(6)} ms  ${k}`);
  }
}

function main(): void {
  const [resultsPath, dir, ...rest] = process.argv.slice(2);
  if (!resultsPath || !dir) {
    throw new Error('usage: profile.js <results.json> <profile dir> [--top N]');
  }
  const top = rest[0] === '--top' ? Number(rest[1]) : 25;
  const results = JSON.parse(readFileSync(resultsPath, 'utf8'));
  const repeats: Record<
    string,
    { chat: { acked: number; startUs?: number; slowestAcks?: [number, number][] }; window?: Window }
  >[] = results.rate?.repeats ?? [];
  for (const side of ['app', 'relay']) {
    const runs = repeats.map((r) => r[side]).filter((r) => r?.window);
    if (runs.length === 0) {
      throw new Error(`${resultsPath} holds no rate repeats with reading windows for ${side}`);
    }
    const windows = runs.map((r) => r.window as Window);
    const sends = runs.reduce((a, r) => a + r.chat.acked, 0);
    let files: string[];
    try {
      files = readdirSync(join(dir, side)).filter((f) => f.endsWith('.cpuprofile'));
    } catch {
      files = [];
    }
    for (const file of files.sort()) {
      const profile = JSON.parse(readFileSync(join(dir, side, file), 'utf8')) as CpuProfile;
      const byComponent = selfTime(profile, windows, (n) => component(n.callFrame.url, n.callFrame.functionName));
      if ([...byComponent.values()].reduce((a, b) => a + b, 0) === 0) {
        continue;
      }
      print(`${side} ${file}, by component`, byComponent, sends, top);
      const byFunction = selfTime(profile, windows, (n) => {
        const f = n.callFrame;
        return `${f.functionName || '(anonymous)'} ${component(f.url, f.functionName)}:${f.lineNumber + 1}`;
      });
      print(`${side} ${file}, by function`, byFunction, sends, top);
      const slowest = runs.flatMap((r) =>
        r.chat.startUs === undefined
          ? []
          : (r.chat.slowestAcks ?? []).map(([at, ms]) => ({ fromUs: (r.chat.startUs as number) + at * 1e6, ms })),
      );
      if (slowest.length > 0) {
        slowest.sort((a, b) => b.ms - a.ms);
        printStalls(`${side} ${file}`, profile, slowest.slice(0, 10));
        printStacks(`${side} ${file}`, profile, slowest[0]);
      }
    }
  }
}

if (require.main === module) {
  main();
}
