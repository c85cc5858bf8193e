import { IsString, IsUUID } from 'class-validator';
import { randomUUID } from 'node:crypto';
import { AppException } from '../errors/app.exception';
import { ErrorCode } from '../errors/error-code';
import { validatePayload } from './validate-payload';

class RoomEvent {
  @IsUUID('all', { message: 'must be a room id (UUID)' })
  roomId!: string;

  @IsString()
  content!: string;
}

async function refusal(payload: unknown): Promise<AppException> {
  try {
    await validatePayload(RoomEvent, payload);
  } catch (error) {
    if (error instanceof AppException) {
      return error;
    }
    throw error;
  }
  throw new Error('the payload was accepted');
}

describe(validatePayload.name, () => {
  it.each<[string, unknown]>([
    ['null', null],
    ['a string', 'x'],
    ['an array', [{ roomId: randomUUID() }]],
    ['nothing', undefined],
  ])('should refuse %s as payload', async (_, payload) => {
    const error = await refusal(payload);

    expect(error.details).toEqual([{ field: 'payload', message: 'must be an object' }]);
  });

  it('should refuse binary attachments anywhere before validating the fields, naming the first', async () => {
    const error = await refusal({ roomId: 'not a uuid', content: 'x', pad: [Buffer.alloc(60_000), Buffer.alloc(1)] });

    expect(error.code).toBe(ErrorCode.VALIDATION_FAILED);
    expect(error.details).toEqual([{ field: 'pad.0', message: 'must not be binary data' }]);
  });

  it('should refuse a payload that is itself binary', async () => {
    const error = await refusal(Buffer.from('{}'));

    expect(error.details).toEqual([{ field: 'payload', message: 'must not be binary data' }]);
  });

  it('should refuse a NUL character in a known field, and make lone surrogates U+FFFD', async () => {
    const roomId = randomUUID();

    expect((await refusal({ roomId, content: '\u0000' })).details).toEqual([
      { field: 'content', message: 'must not contain NUL characters' },
    ]);
    expect(await validatePayload(RoomEvent, { roomId, content: 'hi \ud83d', extra: '\u0000' })).toEqual({
      roomId,
      content: 'hi \ufffd',
    });
  });
});
