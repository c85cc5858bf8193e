import { EventEmitter } from 'node:events';
import type { PoolClient } from 'pg';
import { mapDatabaseError } from '../database-error';
import { CallTimeoutError, watchForLoss, within } from './pg-connection';

describe(within.name, () => {
  it('should give the work its result when it comes in time', async () => {
    await expect(within(Promise.resolve('rows'), performance.now() + 1000, 1000)).resolves.toBe('rows');
  });

  it('should fail with a CallTimeoutError at the deadline, which callers read as UNAVAILABLE', async () => {
    const started = performance.now();

    const sut = await within(new Promise(() => undefined), started + 50, 50).catch((error: unknown) => error);

    expect(sut).toBeInstanceOf(CallTimeoutError);
    expect(performance.now() - started).toBeGreaterThanOrEqual(45);
    expect(mapDatabaseError(sut)).toMatchObject({ code: 'UNAVAILABLE' });
  });
});

describe(watchForLoss.name, () => {
  it('should take the error a checked-out connection emits, and give it back when stopped, listening no more', () => {
    const client = new EventEmitter();
    const lost = new Error('Connection terminated unexpectedly');

    const sut = watchForLoss(client as unknown as PoolClient);
    client.emit('error', lost);

    expect(sut.stop()).toBe(lost);
    expect(client.listenerCount('error')).toBe(0);
  });

  it('should give nothing back for a connection that stayed', () => {
    const client = new EventEmitter();

    expect(watchForLoss(client as unknown as PoolClient).stop()).toBeUndefined();
  });
});
