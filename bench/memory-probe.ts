/**
 * Where a process's resident memory lies, for `bench/memory.ts --breakdown`:
 * - `mappingClasses(pid)`: the resident kB of every mapping of `/proc/<pid>/smaps`, in classes: WebAssembly memories
 *   (anonymous read-write mappings of 128 MiB and more: PGlite's linear memories, and any buffer that large), glibc's
 *   main heap (`[heap]`) and its per-thread arenas (anonymous mappings aligned to 64 MiB), the node binary and
 *   libraries, and the rest (V8 heap pages of every thread, compiled code, stacks). The bench reads the server's
 *   from outside while it starts.
 * - Preloaded into the server (`node -r …/memory-probe.js dist/main.js`, with MEMORY_PROBE=1): on SIGUSR2 it writes
 *   one line to stderr, `MEMORY-PROBE {json}`, with those classes, the largest mappings, the main thread's V8 heap
 *   (`process.memoryUsage()`, the heap spaces) and the modules it loaded, by package. The worker thread's own V8
 *   heap is not visible from there; its share is in the process-wide classes.
 */
import { readFileSync } from 'node:fs';
import { getHeapSpaceStatistics, getHeapStatistics } from 'node:v8';

const MIB = 1024 * 1024;
const ARENA_ALIGN = 64 * MIB;

interface Mapping {
  start: number;
  sizeKb: number;
  perms: string;
  name: string;
  rssKb: number;
}

function mappings(pid: number | 'self'): Mapping[] {
  const out: Mapping[] = [];
  let current: Mapping | undefined;
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      const start = parseInt(head[1], 16);
      current = { start, sizeKb: (parseInt(head[2], 16) - start) / 1024, perms: head[3], name: head[4], rssKb: 0 };
      out.push(current);
    } else if (current && line.startsWith('Rss:')) {
      current.rssKb = Number(line.replace(/\D+/g, ''));
    }
  }
  return out;
}

function classOf(m: Mapping): string {
  if (m.name === '[heap]') {
    return 'mallocMainHeap';
  }
  if (m.name.startsWith('/')) {
    return m.name === process.execPath ? 'nodeBinary' : 'libraries';
  }
  if (m.name !== '') {
    return 'other';
  }
  if (m.perms === 'rw-p' && m.sizeKb * 1024 >= 128 * MIB) {
    return 'wasmMemories';
  }
  if (m.start % ARENA_ALIGN === 0) {
    return 'mallocThreadArenas';
  }
  return 'otherAnonymous';
}

/** Resident kB by class of mapping (see the head of this file). */
export function mappingClasses(pid: number | 'self', all = mappings(pid)): Record<string, number> {
  const classes: Record<string, number> = {};
  for (const m of all) {
    const c = classOf(m);
    classes[c] = (classes[c] ?? 0) + m.rssKb;
  }
  return classes;
}

function report(): Record<string, unknown> {
  const all = mappings('self');
  const classes = mappingClasses('self', all);
  const packages: Record<string, number> = {};
  for (const file of Object.keys(require.cache)) {
    const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file)?.[1] ?? '(app)';
    packages[pkg] = (packages[pkg] ?? 0) + 1;
  }
  const mu = process.memoryUsage();
  const heap = getHeapStatistics();
  return {
    rssKb: Math.round(mu.rss / 1024),
    mappingsKb: classes,
    largestMappings: all
      .filter((m) => m.rssKb >= 4096)
      .sort((a, b) => b.rssKb - a.rssKb)
      .slice(0, 12)
      .map((m) => ({ class: classOf(m), sizeKb: m.sizeKb, rssKb: m.rssKb, name: m.name })),
    mainThreadHeapKb: {
      total: Math.round(mu.heapTotal / 1024),
      used: Math.round(mu.heapUsed / 1024),
      external: Math.round(mu.external / 1024),
      arrayBuffers: Math.round(mu.arrayBuffers / 1024),
      mallocedByV8: Math.round(heap.malloced_memory / 1024),
      peakMallocedByV8: Math.round(heap.peak_malloced_memory / 1024),
      spaces: Object.fromEntries(
        getHeapSpaceStatistics().map((s) => [
          s.space_name,
          { used: Math.round(s.space_used_size / 1024), resident: Math.round(s.physical_space_size / 1024) },
        ]),
      ),
    },
    modules: Object.keys(require.cache).length,
    modulesByPackage: Object.fromEntries(Object.entries(packages).sort((a, b) => b[1] - a[1])),
  };
}

if (process.env.MEMORY_PROBE === '1') {
  process.on('SIGUSR2', () => {
    process.stderr.write(`MEMORY-PROBE ${JSON.stringify(report())}\n`);
  });
}
