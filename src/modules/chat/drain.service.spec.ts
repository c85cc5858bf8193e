import { drainPlan } from './drain.service';

describe('drainPlan', () => {
  it('should refuse nothing before SHUTDOWN_DRAIN_MS and end within SHUTDOWN_DRAIN_MS + SHUTDOWN_TIMEOUT_MS', () => {
    expect(drainPlan(5000, 10_000)).toEqual({
      refuseAt: 5000,
      spreadMs: 2500,
      repliesEndAt: 12_500,
      connectionsEndAt: 14_000,
      exitAt: 15_000,
    });
  });

  it('should keep at most 5 s for closing sockets and 3 s after the replies with a long budget', () => {
    expect(drainPlan(0, 60_000)).toEqual({
      refuseAt: 0,
      spreadMs: 5000,
      repliesEndAt: 57_000,
      connectionsEndAt: 59_000,
      exitAt: 60_000,
    });
  });

  it('should keep every phase in order with the shortest budget', () => {
    const plan = drainPlan(0, 1000);

    expect(plan.refuseAt + plan.spreadMs).toBeLessThanOrEqual(plan.repliesEndAt);
    expect(plan.repliesEndAt).toBeLessThan(plan.connectionsEndAt);
    expect(plan.connectionsEndAt).toBeLessThan(plan.exitAt);
  });
});
