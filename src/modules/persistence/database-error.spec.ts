import { randomUUID } from 'node:crypto';
import { AppException } from '../../common/errors/app.exception';
import { ErrorCode } from '../../common/errors/error-code';
import { mapDatabaseError } from './database-error';

/** A driver error shaped like pg's / PGlite's: an Error with a SQLSTATE `code`. */
function makeDbError(code: string | undefined, message = `database said ${randomUUID()}`): Error & { code?: string } {
  return Object.assign(new Error(message), code === undefined ? {} : { code });
}

function mapOrFail(error: unknown): AppException {
  const result = mapDatabaseError(error);
  if (result === undefined) {
    throw new Error('mapDatabaseError returned undefined');
  }
  return result;
}

describe(mapDatabaseError.name, () => {
  it.each([
    ['CH400', ErrorCode.VALIDATION_FAILED],
    ['CH401', ErrorCode.UNAUTHENTICATED],
    ['CH403', ErrorCode.FORBIDDEN],
    ['CH404', ErrorCode.NOT_FOUND],
    ['CH409', ErrorCode.CONFLICT],
  ])('should map our own %s to %s', (sqlState, code) => {
    const sut = mapOrFail(makeDbError(sqlState));

    expect(sut).toBeInstanceOf(AppException);
    expect(sut.code).toBe(code);
  });

  it.each(['CH403', 'CH404', 'CH409'])('should keep the message written in SQL for %s', (sqlState) => {
    const message = `Room ${randomUUID()} is not yours`;

    const sut = mapOrFail(makeDbError(sqlState, message));

    expect(sut.message).toBe(message);
  });

  it('should not pass the SQL message of CH401 through', () => {
    const message = `jwt claims ${randomUUID()}`;

    const sut = mapOrFail(makeDbError('CH401', message));

    expect(sut.message).not.toContain(message);
    expect(sut.message.length).toBeGreaterThan(0);
  });

  it.each([
    ['23505', ErrorCode.CONFLICT],
    ['23503', ErrorCode.NOT_FOUND],
    ['42501', ErrorCode.NOT_FOUND],
    ['22P02', ErrorCode.VALIDATION_FAILED],
    ['23514', ErrorCode.VALIDATION_FAILED],
  ])('should map SQLSTATE %s to %s without the SQL message', (sqlState, code) => {
    const message = `relation "secret_${randomUUID()}" violates something`;

    const sut = mapOrFail(makeDbError(sqlState, message));

    expect(sut.code).toBe(code);
    expect(sut.message).not.toContain(message);
    expect(sut.message).not.toContain('secret_');
  });

  it('should answer a row-level security refusal with a message that names nothing', () => {
    const message = `new row violates row-level security policy for table "rooms" ${randomUUID()}`;

    const sut = mapOrFail(makeDbError('42501', message));

    expect(sut.code).toBe(ErrorCode.NOT_FOUND);
    expect(sut.message).toBe('Not found');
  });

  it.each(['ECONNREFUSED', 'ECONNRESET', '57P01', '08006', '53300'])('should map %s to UNAVAILABLE', (code) => {
    const sut = mapOrFail(makeDbError(code));

    expect(sut.code).toBe(ErrorCode.UNAVAILABLE);
  });

  it('should map a call past its time (57014) to UNAVAILABLE that says so', () => {
    const sut = mapOrFail(makeDbError('57014', 'canceling statement due to statement timeout'));

    expect(sut.code).toBe(ErrorCode.UNAVAILABLE);
    expect(sut.message).toBe('The database did not answer in time, try again later');
  });

  it('should map an error without a code that says "Connection terminated" to UNAVAILABLE', () => {
    const sut = mapOrFail(makeDbError(undefined, 'Connection terminated unexpectedly'));

    expect(sut.code).toBe(ErrorCode.UNAVAILABLE);
  });

  it.each(['42P01', '42703', 'XX000'])('should leave SQLSTATE %s (a bug) unmapped', (sqlState) => {
    expect(mapDatabaseError(makeDbError(sqlState))).toBeUndefined();
  });

  it('should leave an error without a code that says nothing about the connection unmapped', () => {
    expect(mapDatabaseError(makeDbError(undefined, 'Cannot read properties of undefined'))).toBeUndefined();
  });

  it.each([undefined, null, 'a string', 42])('should leave a thrown %p unmapped', (thrown) => {
    expect(mapDatabaseError(thrown)).toBeUndefined();
  });

  it.each(['CH404', '23505', '42501', '08006', '22P02'])('should keep the original %s error as cause', (sqlState) => {
    const original = makeDbError(sqlState);

    const sut = mapOrFail(original);

    expect(sut.cause).toBe(original);
  });

  it('should keep the original connection error as cause', () => {
    const original = makeDbError(undefined, 'Connection terminated unexpectedly');

    const sut = mapOrFail(original);

    expect(sut.cause).toBe(original);
  });
});
