import { IsString, IsUUID } from 'class-validator';
import { randomUUID } from 'node:crypto';
import { ErrorCode } from '../errors/error-code';
import { validatePayload } from './validate-payload';

class RoomEvent {
  @IsUUID('all', { message: 'must be a room id (UUID)' })
  roomId!: string;

  @IsString()
  content!: string;
}

describe(validatePayload.name, () => {
  it.each<[string, unknown]>([
    ['null', null],
    ['a string', 'x'],
    ['an array', [{ roomId: randomUUID() }]],
    ['nothing', undefined],
  ])('should refuse %s as payload', async (_, payload) => {
    await expect(validatePayload(RoomEvent, payload)).rejects.toMatchObject({
      details: [{ field: 'payload', message: 'must be an object' }],
    });
  });

  it('should refuse binary attachments anywhere before validating the fields, naming the first', async () => {
    const payload = { roomId: 'not a uuid', content: 'x', pad: [Buffer.alloc(60_000), Buffer.alloc(1)] };

    await expect(validatePayload(RoomEvent, payload)).rejects.toMatchObject({
      code: ErrorCode.VALIDATION_FAILED,
      details: [{ field: 'pad.0', message: 'must not be binary data' }],
    });
  });

  it('should refuse a payload that is itself binary', async () => {
    await expect(validatePayload(RoomEvent, Buffer.from('{}'))).rejects.toMatchObject({
      details: [{ field: 'payload', message: 'must not be binary data' }],
    });
  });

  it('should refuse a NUL character in a known field, and make lone surrogates U+FFFD', async () => {
    const roomId = randomUUID();

    await expect(validatePayload(RoomEvent, { roomId, content: '\u0000' })).rejects.toMatchObject({
      details: [{ field: 'content', message: 'must not contain NUL characters' }],
    });
    expect(await validatePayload(RoomEvent, { roomId, content: 'hi \ud83d', extra: '\u0000' })).toEqual({
      roomId,
      content: 'hi \ufffd',
    });
  });
});
