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

  it('should cap a group at maxSize, the rest waiting for the next group', async () => {
    const runner = controlledRunner();
    const sut = new GroupCommitter(runner.run, { maxSize: 2, maxInFlight: 1 });

    const results = [1, 2, 3].map((i) => sut.submit(i));
    await nextTurn();
    expect(runner.groups.map((g) => g.items)).toEqual([[1, 2]]);
    runner.groups[0].settle(allOk([1, 2]));
    await nextTurn();
    await nextTurn();
    expect(runner.groups.map((g) => g.items)).toEqual([[1, 2], [3]]);
    runner.groups[1].settle(allOk([3]));
    await expect(Promise.all(results)).resolves.toEqual(['stored 1', 'stored 2', 'stored 3']);
  });

  describe('with maxInFlight above 1 (a Postgres server)', () => {
    /** Items are numbers; their key (their room) is the tens: 11 and 12 share room 1. */
    const roomOf = (i: number) => String(Math.floor(i / 10));

    it('should run groups at once only on rooms no other running group holds', async () => {
      const runner = controlledRunner();
      const sut = new GroupCommitter(runner.run, { maxSize: 10, maxInFlight: 2 }, roomOf);

      const results = [11, 21, 12, 31, 22].map((i) => sut.submit(i));
      await nextTurn();

      // rooms 1 and 2 in two lanes; room 3 in the one with fewer unsettled when it came (room 2's: 21 against 11, 12)
      expect(runner.groups.map((g) => g.items)).toEqual([
        [11, 12],
        [21, 31, 22],
      ]);
      runner.groups.forEach((g) => g.settle(allOk(g.items)));
      await expect(Promise.all(results)).resolves.toEqual([
        'stored 11',
        'stored 21',
        'stored 12',
        'stored 31',
        'stored 22',
      ]);
    });

    it("should keep a room's submissions in one lane, in order, while any of them is unsettled", async () => {
      const runner = controlledRunner();
      const sut = new GroupCommitter(runner.run, { maxSize: 10, maxInFlight: 2 }, roomOf);

      void sut.submit(11);
      await nextTurn();
      // room 1's group runs; more of room 1 wait for it rather than run in the idle lane
      void sut.submit(12);
      void sut.submit(13);
      void sut.submit(21);
      await nextTurn();
      expect(runner.groups.map((g) => g.items)).toEqual([[11], [21]]);

      runner.groups[0].settle(allOk([11]));
      await nextTurn();
      await nextTurn();
      expect(runner.groups.map((g) => g.items)).toEqual([[11], [21], [12, 13]]);
    });

    it('should let a room whose submissions all settled go to the least busy lane', async () => {
      const runner = controlledRunner();
      const sut = new GroupCommitter(runner.run, { maxSize: 10, maxInFlight: 2 }, roomOf);

      void sut.submit(11);
      void sut.submit(21);
      await nextTurn();
      runner.groups[0].settle(allOk([11]));
      await nextTurn();
      // room 1 has nothing unsettled; the lane of room 2 still runs, so room 1 is free to take the other one
      void sut.submit(12);
      void sut.submit(22);
      await nextTurn();
      expect(runner.groups.map((g) => g.items)).toEqual([[11], [21], [12]]);

      runner.groups[1].settle(allOk([21]));
      await nextTurn();
      await nextTurn();
      expect(runner.groups.map((g) => g.items)).toEqual([[11], [21], [12], [22]]);
    });

    it('should run one group at a time without a key (every submission in one lane)', async () => {
      const runner = controlledRunner();
      const sut = new GroupCommitter(runner.run, { maxSize: 1, maxInFlight: 2 });

      void sut.submit(11);
      void sut.submit(21);
      await nextTurn();

      expect(runner.groups.map((g) => g.items)).toEqual([[11]]);
    });
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
