import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runToExit, type ProcessRun } from '../support/server-process';

/**
 * `npm run bench` in miniature: every phase, each at its smallest, on the embedded database and on a PostgreSQL
 * server, as `npm run bench` runs it (bench/dist/bench/run.js on this checkout's dist/; the `bench` project's
 * globalSetup builds both). `npm test` runs this project on its own, after the others: its rate search loads the
 * machine to saturation, which would slow the suites beside it.
 * Nothing else runs the benchmark in CI, and it once failed for a day unseen (a phase's direct writes broke on a
 * new not-null column). The figures mean nothing here (one-second steps on a busy machine); what is asserted is
 * what a benchmark run must give whatever the machine: every phase finishes, the report prints, the results file
 * holds each phase's figures, and nothing sent was lost or duplicated.
 */
const ROOT = join(__dirname, '..', '..');
const PHASES = ['engine', 'idle', 'rate', 'floor', 'search', 'ai', 'history', 'cluster', 'noisy'];
/** Each phase at its smallest: one-second repeats and steps, few sockets, a small history, one noisy pair. */
const SMALL = [
  '--duration=1',
  '--warmup=1',
  '--repeats=1',
  '--search-seconds=1',
  '--idle=20',
  '--history-big=1000',
  '--engine-sends=100',
  '--ai-rooms=2',
  '--noisy-slice=0.5',
  '--noisy-pairs=1',
  '--noisy-kinds=none,send',
];

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'bench-smoke-'));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** `node bench/dist/bench/<script> args…`, what `npm run bench[:group-commit] -- args…` runs after building. */
function bench(args: string[], script = 'run.js'): Promise<ProcessRun> {
  return runToExit(join('bench', 'dist', 'bench', script), {}, ROOT, args);
}

describe.each(['embedded', 'postgres'])('npm run bench on the %s database, every phase at its smallest', (db) => {
  let run: ProcessRun;
  let results: any;

  beforeAll(async () => {
    const out = join(dir, `${db}.json`);
    run = await bench([`--db=${db}`, ...SMALL, `--out=${out}`]);
    results = run.code === 0 ? JSON.parse(readFileSync(out, 'utf8')) : undefined;
  }, 900_000);

  it('runs every phase to the end and prints the report', () => {
    expect({ code: run.code, stderr: run.code === 0 ? '' : run.stderr.slice(-3000) }).toEqual({ code: 0, stderr: '' });
    expect(results.flags.phases).toEqual(PHASES);
    expect(run.stdout).toContain('bench: results written to');
    expect(run.stdout).toMatch(/highest rate with p99 ack < 50 ms/);
  });

  it('holds the figures of each phase', () => {
    expect(results.engine.groupedPerSecond.median).toBeGreaterThan(0);
    expect(results.app.idle).toBeDefined();
    expect(results.rate.repeats).toHaveLength(1);
    expect(results.floor).toBeDefined();
    for (const name of ['app', 'relay', 'database']) {
      expect(results.search[name].steps.length).toBeGreaterThan(0);
    }
    // Where the app's slow acks come from: its own metrics around each step.
    expect(results.search.app.steps[0].server).toMatchObject({ meanGroupSize: expect.any(Number) });
    expect(Object.keys(results.app.ai)).toEqual(['spaced', 'dense']);
    expect(results.app.history.sizes).toEqual([1000, 1000]);
    expect(results.cluster).toBeDefined();
    expect(results.app.noisy).toBeDefined();
  });

  it('loses and duplicates nothing the app acked, in the paired phase and at every search step', () => {
    const chat = results.rate.repeats[0].app.chat;
    expect({ lost: chat.lost, duplicates: chat.duplicates, seqGaps: chat.seqGaps }).toEqual({
      lost: 0,
      duplicates: 0,
      seqGaps: 0,
    });
    expect(chat.acked).toBeGreaterThan(0);
    expect(results.search.app.steps.map((s: { lost: number }) => s.lost)).toEqual(
      results.search.app.steps.map(() => 0),
    );
  });
});

describe('npm run bench:group-commit at its smallest', () => {
  let run: ProcessRun;
  let results: any;

  beforeAll(async () => {
    const out = join(dir, 'group-commit.json');
    run = await bench(
      ['--settings=50/1,10/2', '--rates=100,200', '--rounds=1', '--seconds=1', `--out=${out}`],
      'group-commit.js',
    );
    results = run.code === 0 ? JSON.parse(readFileSync(out, 'utf8')) : undefined;
  }, 300_000);

  it('runs every setting at every rate on a durable server and prints the table', () => {
    expect({ code: run.code, stderr: run.code === 0 ? '' : run.stderr.slice(-3000) }).toEqual({ code: 0, stderr: '' });
    expect(results.postgres).toMatchObject({ fsync: 'on', synchronous_commit: 'on' });
    expect(results.steps.map((s: { setting: string; rate: number }) => `${s.setting}@${s.rate}`).sort()).toEqual([
      '10/2@100',
      '10/2@200',
      '50/1@100',
      '50/1@200',
    ]);
    expect(run.stdout).toMatch(/^ +200\/s offered \| 50\/1: p99 .* \| 10\/2: p99 /m);
  });

  it('answers every send it offered, without an error', () => {
    for (const step of results.steps) {
      expect({ errors: step.errors, ackedPerSecond: step.ackedPerSecond > 0 }).toEqual({
        errors: 0,
        ackedPerSecond: true,
      });
    }
  });

  it('refuses a malformed setting before it starts anything', async () => {
    const bad = await bench(['--settings=50'], 'group-commit.js');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('--settings takes maxSize/maxInFlight pairs, not 50');
  });
});

describe('npm run bench:busy-room at its smallest', () => {
  let run: ProcessRun;
  let results: any;

  beforeAll(async () => {
    const out = join(dir, 'busy-room.json');
    run = await bench(['--rounds=1', '--sends=10', '--rooms=10', `--out=${out}`], 'busy-room.js');
    results = run.code === 0 ? JSON.parse(readFileSync(out, 'utf8')) : undefined;
  }, 300_000);

  it('sends a burst into one room and one spread over the rooms on a durable server, and prints the table', () => {
    expect({ code: run.code, stderr: run.code === 0 ? '' : run.stderr.slice(-3000) }).toEqual({ code: 0, stderr: '' });
    expect(results.postgres).toMatchObject({ fsync: 'on', synchronous_commit: 'on' });
    expect(results.measured['one room']).toHaveLength(1);
    expect(results.measured.spread).toHaveLength(1);
    expect(run.stdout).toMatch(/^one room +\| \d+ +\| \d+ +\| [\d.]+ +\| \d+$/m);
    expect(run.stdout).toMatch(/^10 rooms +\| /m);
  });

  it('counts the MultiXacts of sends into one room, and none when each room has one send per group', () => {
    const [oneRoom] = results.measured['one room'];
    const [spread] = results.measured.spread;
    expect(oneRoom.multiXactsPerSend).toBeGreaterThan(0);
    expect(spread.multiXactsPerSend).toBe(0);
    for (const burst of [oneRoom, spread]) {
      expect(burst.backendUsPerSend).toBeGreaterThan(0);
      expect(burst.walBytesPerSend).toBeGreaterThan(0);
    }
  });

  it('refuses a malformed flag before it starts anything', async () => {
    const bad = await bench(['--rooms=1'], 'busy-room.js');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('--rooms takes a whole number of at least 2');
  });
});

describe('npm run bench:room-size at its smallest', () => {
  let run: ProcessRun;
  let results: any;

  beforeAll(async () => {
    const out = join(dir, 'room-size.json');
    run = await bench(['--sizes=100,200', '--sends=3', '--rounds=1', `--out=${out}`], 'room-size.js');
    results = run.code === 0 ? JSON.parse(readFileSync(out, 'utf8')) : undefined;
  }, 300_000);

  it('sends into the big room at each size and into the small one, and prints the table', () => {
    expect({ code: run.code, stderr: run.code === 0 ? '' : run.stderr.slice(-3000) }).toEqual({ code: 0, stderr: '' });
    expect(results.steps.map((step: { size: number }) => step.size)).toEqual([100, 200]);
    for (const step of results.steps) {
      expect(step.big.median).toBeGreaterThan(0);
      expect(step.small.median).toBeGreaterThan(0);
    }
    expect(run.stdout).toMatch(/^ +200 \| \d+ +\| \d+ +\| [\d.]+$/m);
  });

  it('refuses a malformed flag before it starts anything', async () => {
    const bad = await bench(['--sizes=10,x'], 'room-size.js');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('--sizes takes whole numbers of at least 1, not 10,x');
  });
});
