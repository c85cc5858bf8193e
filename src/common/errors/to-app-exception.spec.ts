import {
  BadRequestException,
  ForbiddenException,
  HttpException,
  NotFoundException,
  PayloadTooLargeException,
  ServiceUnavailableException,
  UnauthorizedException,
} from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { AppException } from './app.exception';
import { ErrorCode } from './error-code';
import { toAppException } from './to-app-exception';

function makeAppException(code: ErrorCode): AppException {
  return new AppException(code, `message ${randomUUID()}`);
}

describe(toAppException.name, () => {
  it.each(Object.values(ErrorCode).filter((code) => code !== ErrorCode.INTERNAL))(
    'should pass an AppException with %s through as expected',
    (code) => {
      const error = makeAppException(code);

      const sut = toAppException(error);

      expect(sut.exception).toBe(error);
      expect(sut.unexpected).toBe(false);
    },
  );

  it('should pass an INTERNAL AppException through as unexpected', () => {
    const error = makeAppException(ErrorCode.INTERNAL);

    const sut = toAppException(error);

    expect(sut.exception).toBe(error);
    expect(sut.unexpected).toBe(true);
  });

  it.each([
    [new BadRequestException(), ErrorCode.VALIDATION_FAILED],
    [new UnauthorizedException(), ErrorCode.UNAUTHENTICATED],
    [new ForbiddenException(), ErrorCode.FORBIDDEN],
    [new NotFoundException(), ErrorCode.NOT_FOUND],
    [new PayloadTooLargeException(), ErrorCode.PAYLOAD_TOO_LARGE],
    [new HttpException('slow down', 429), ErrorCode.RATE_LIMITED],
    [new ServiceUnavailableException(), ErrorCode.UNAVAILABLE],
  ])('should map %p to %s', (error, code) => {
    const sut = toAppException(error);

    expect(sut.exception).toBeInstanceOf(AppException);
    expect(sut.exception.code).toBe(code);
    expect(sut.unexpected).toBe(false);
  });

  it('should give a 429 a positive retryAfterMs', () => {
    const sut = toAppException(new HttpException('slow down', 429));

    expect(sut.exception.retryAfterMs).toBeGreaterThan(0);
  });

  it('should map a body-parser "entity.too.large" error to PAYLOAD_TOO_LARGE', () => {
    const error = Object.assign(new Error('request entity too large'), {
      type: 'entity.too.large',
      status: 413,
      expose: true,
    });

    const sut = toAppException(error);

    expect(sut.exception.code).toBe(ErrorCode.PAYLOAD_TOO_LARGE);
    expect(sut.unexpected).toBe(false);
  });

  it('should map a body-parser "entity.parse.failed" error to VALIDATION_FAILED', () => {
    const error = Object.assign(new SyntaxError(`Unexpected token } in JSON at position ${randomUUID()}`), {
      type: 'entity.parse.failed',
      status: 400,
      expose: true,
    });

    const sut = toAppException(error);

    expect(sut.exception.code).toBe(ErrorCode.VALIDATION_FAILED);
    expect(sut.unexpected).toBe(false);
    expect(sut.exception.message).not.toContain('Unexpected token');
  });

  it('should map a plain Error to INTERNAL, unexpected, without its message', () => {
    const secret = `SELECT * FROM secrets WHERE id = '${randomUUID()}'`;

    const sut = toAppException(new Error(secret));

    expect(sut.exception).toBeInstanceOf(AppException);
    expect(sut.exception.code).toBe(ErrorCode.INTERNAL);
    expect(sut.unexpected).toBe(true);
    expect(sut.exception.message).not.toContain(secret);
    expect(sut.exception.message.length).toBeGreaterThan(0);
  });

  it.each([undefined, null, 'a thrown string', 42])('should map a thrown %p to INTERNAL, unexpected', (thrown) => {
    const sut = toAppException(thrown);

    expect(sut.exception.code).toBe(ErrorCode.INTERNAL);
    expect(sut.unexpected).toBe(true);
  });
});
