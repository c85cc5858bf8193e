import type { IncomingMessage, ServerResponse } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { AppException } from '../errors/app.exception';
import { ErrorCode } from '../errors/error-code';
import { bodyReadErrors } from './body-read-errors';

function passedOn(error: unknown, contentEncoding?: string): unknown {
  const req = { headers: contentEncoding ? { 'content-encoding': contentEncoding } : {} } as IncomingMessage;
  let passed: unknown;
  bodyReadErrors(error, req, {} as ServerResponse, (next) => (passed = next));
  return passed;
}

/** What body-parser gives for a body its decompressor refused: zlib's own error, made a 400 (no `type`). */
function decodeError(): Error {
  try {
    gunzipSync(Buffer.from('not gzip'));
  } catch (error) {
    return Object.assign(error as Error, { status: 400, statusCode: 400, expose: true });
  }
  throw new Error('gunzip took garbage');
}

describe(bodyReadErrors.name, () => {
  it.each(['gzip', 'deflate', 'br'])(
    'should turn a %s body that does not decode into VALIDATION_FAILED on body',
    (encoding) => {
      const sut = passedOn(decodeError(), encoding);

      expect(sut).toBeInstanceOf(AppException);
      expect(sut).toMatchObject({ code: ErrorCode.VALIDATION_FAILED, details: [{ field: 'body' }] });
    },
  );

  it('should turn an encoding the parser does not take into VALIDATION_FAILED on body', () => {
    const unsupported = Object.assign(new Error('unsupported content encoding "compress"'), {
      status: 415,
      type: 'encoding.unsupported',
    });

    expect(passedOn(unsupported, 'compress')).toMatchObject({
      code: ErrorCode.VALIDATION_FAILED,
      details: [{ field: 'body', message: 'Content-Encoding must be gzip, deflate, br or identity' }],
    });
  });

  it('should pass every other error on as it is', () => {
    const malformed = Object.assign(new SyntaxError('Unexpected token'), { status: 400, type: 'entity.parse.failed' });
    const tooLarge = Object.assign(new Error('too large'), { status: 413, type: 'entity.too.large' });
    const plain = new Error('a bug');
    const withoutEncoding = decodeError();

    expect(passedOn(malformed, 'gzip')).toBe(malformed);
    expect(passedOn(tooLarge)).toBe(tooLarge);
    expect(passedOn(plain, 'gzip')).toBe(plain);
    expect(passedOn(withoutEncoding)).toBe(withoutEncoding);
  });
});
