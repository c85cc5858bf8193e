import { mapDatabaseError } from '../database-error';
import { CallTimeoutError, within } from './pg-connection';

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
