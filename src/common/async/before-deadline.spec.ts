import { beforeDeadline } from './before-deadline';

describe('beforeDeadline', () => {
  beforeEach(() => {
    jest.useFakeTimers();
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  it('should give the work’s value when it settles before the deadline, and clear the timer', async () => {
    const onLate = jest.fn(() => 'late');

    const sut = await beforeDeadline(Promise.resolve('done'), 1000, onLate);

    expect(sut).toBe('done');
    expect(onLate).not.toHaveBeenCalled();
    expect(jest.getTimerCount()).toBe(0);
  });

  it('should give the work’s rejection when it rejects before the deadline', async () => {
    await expect(beforeDeadline(Promise.reject(new Error('boom')), 1000, () => 'late')).rejects.toThrow('boom');
    expect(jest.getTimerCount()).toBe(0);
  });

  it('should give what onLate returns at the deadline, and ignore the work settling afterwards', async () => {
    let fail!: (error: Error) => void;
    const work = new Promise<string>((_, reject) => (fail = reject));

    const sut = beforeDeadline(work, 1000, () => 'late');
    await jest.advanceTimersByTimeAsync(1000);

    await expect(sut).resolves.toBe('late');
    fail(new Error('too late to matter'));
    await Promise.resolve();
  });

  it('should reject with what onLate throws at the deadline', async () => {
    const sut = beforeDeadline(new Promise<never>(() => undefined), 500, () => {
      throw new Error('timed out');
    });
    const outcome = expect(sut).rejects.toThrow('timed out');

    await jest.advanceTimersByTimeAsync(500);

    await outcome;
  });

  it('should not call onLate before a fractional deadline: the wait is rounded up to whole milliseconds', async () => {
    const onLate = jest.fn(() => 'late');

    const sut = beforeDeadline(new Promise<never>(() => undefined), 999.2, onLate);
    await jest.advanceTimersByTimeAsync(999);
    expect(onLate).not.toHaveBeenCalled();
    await jest.advanceTimersByTimeAsync(1);

    await expect(sut).resolves.toBe('late');
  });

  it('should call onLate at once for a deadline already past', async () => {
    const sut = beforeDeadline(new Promise<never>(() => undefined), -5, () => 'late');
    await jest.advanceTimersByTimeAsync(0);

    await expect(sut).resolves.toBe('late');
  });
});
