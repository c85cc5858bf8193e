import { GroupCommitter, type GroupOutcome } from './group-commit';

/** A runGroup whose groups are recorded and settle only when the test says so. */
function controlledRunner() {
  const groups: { items: number[]; settle(outcomes: GroupOutcome<string>[]): void; fail(error: unknown): void }[] = [];
  const run = (items: number[]) =>
    new Promise<GroupOutcome<string>[]>((resolve, reject) => {
      groups.push({ items, settle: resolve, fail: reject });
    });
  return { groups, run };
}

const allOk = (items: number[]): GroupOutcome<string>[] => items.map((i) => ({ ok: true, value: `stored ${i}` }));
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('GroupCommitter', () => {
  it('should run a lone submission at once, in a group of one', async () => {
    const runner = controlledRunner();
    const sut = new GroupCommitter(runner.run, { maxSize: 10, maxInFlight: 1 });

    const result = sut.submit(1);
    await nextTurn();
    expect(runner.groups.map((g) => g.items)).toEqual([[1]]);
    runner.groups[0].settle(allOk([1]));

    await expect(result).resolves.toBe('stored 1');
  });

  it('should put submissions of the same turn in one group, and those that arrive while it runs in the next', async () => {
    const runner = controlledRunner();
    const sut = new GroupCommitter(runner.run, { maxSize: 10, maxInFlight: 1 });

    const first = [1, 2, 3].map((i) => sut.submit(i));
    await nextTurn();
    const second = [4, 5].map((i) => sut.submit(i));
    await nextTurn();
    // the first group still runs: the next waits for it
    expect(runner.groups.map((g) => g.items)).toEqual([[1, 2, 3]]);

    runner.groups[0].settle(allOk([1, 2, 3]));
    await expect(Promise.all(first)).resolves.toEqual(['stored 1', 'stored 2', 'stored 3']);
    await nextTurn();
    expect(runner.groups.map((g) => g.items)).toEqual([
      [1, 2, 3],
      [4, 5],
    ]);
    runner.groups[1].settle(allOk([4, 5]));
    await expect(Promise.all(second)).resolves.toEqual(['stored 4', 'stored 5']);
  });

  it('should not settle a submission before its group has settled (the commit that holds it)', async () => {
    const runner = controlledRunner();
    const sut = new GroupCommitter(runner.run, { maxSize: 10, maxInFlight: 1 });
    let settled = false;
    void sut.submit(1).then(() => (settled = true));
    await nextTurn();
    await nextTurn();
    expect(settled).toBe(false);
    runner.groups[0].settle(allOk([1]));
    await nextTurn();
    expect(settled).toBe(true);
  });

  it('should cap a group at maxSize and run up to maxInFlight groups at once', async () => {
    const runner = controlledRunner();
    const sut = new GroupCommitter(runner.run, { maxSize: 2, maxInFlight: 2 });

    const results = [1, 2, 3, 4, 5].map((i) => sut.submit(i));
    await nextTurn();
    expect(runner.groups.map((g) => g.items)).toEqual([
      [1, 2],
      [3, 4],
    ]);
    runner.groups[1].settle(allOk([3, 4]));
    await nextTurn();
    await nextTurn();
    expect(runner.groups.map((g) => g.items)).toEqual([[1, 2], [3, 4], [5]]);
    runner.groups[0].settle(allOk([1, 2]));
    runner.groups[2].settle(allOk([5]));
    await expect(Promise.all(results)).resolves.toEqual(['stored 1', 'stored 2', 'stored 3', 'stored 4', 'stored 5']);
  });

  it('should fail a submission alone when its outcome is a failure', async () => {
    const runner = controlledRunner();
    const sut = new GroupCommitter(runner.run, { maxSize: 10, maxInFlight: 1 });
    const refused = new Error('refused');

    const results = [1, 2, 3].map((i) => sut.submit(i));
    await nextTurn();
    runner.groups[0].settle([
      { ok: true, value: 'stored 1' },
      { ok: false, error: refused },
      { ok: true, value: 'stored 3' },
    ]);

    await expect(results[0]).resolves.toBe('stored 1');
    await expect(results[1]).rejects.toBe(refused);
    await expect(results[2]).resolves.toBe('stored 3');
  });

  it('should fail every submission of a group that failed as a whole, and go on with the next group', async () => {
    const runner = controlledRunner();
    const sut = new GroupCommitter(runner.run, { maxSize: 10, maxInFlight: 1 });
    const lost = new Error('connection lost');

    const failed = [1, 2].map((i) => sut.submit(i));
    await nextTurn();
    const later = sut.submit(3);
    runner.groups[0].fail(lost);
    await expect(Promise.allSettled(failed)).resolves.toEqual([
      { status: 'rejected', reason: lost },
      { status: 'rejected', reason: lost },
    ]);
    await nextTurn();
    runner.groups[1].settle(allOk([3]));
    await expect(later).resolves.toBe('stored 3');
  });

  it('should fail a submission the group returned no outcome for, rather than leave it pending', async () => {
    const runner = controlledRunner();
    const sut = new GroupCommitter(runner.run, { maxSize: 10, maxInFlight: 1 });
    const results = [1, 2].map((i) => sut.submit(i));
    await nextTurn();
    runner.groups[0].settle([{ ok: true, value: 'stored 1' }]);
    await expect(results[0]).resolves.toBe('stored 1');
    await expect(results[1]).rejects.toThrow('no outcome');
  });
});
