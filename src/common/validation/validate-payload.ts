import { plainToInstance } from 'class-transformer';
import { validate } from 'class-validator';
import { AppException } from '../errors/app.exception';
import { flattenValidationErrors, rejectNulStrings } from '../http/validation.pipe';

/**
 * Validates an event payload the way the HTTP ValidationPipe validates a body (same rules, same
 * details), for transports where a thrown pipe error would not reach the caller's ack.
 */
export async function validatePayload<T extends object>(type: new () => T, payload: unknown): Promise<T> {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    throw AppException.validation([{ field: 'payload', message: 'must be an object' }]);
  }
  rejectNulStrings(payload);
  const instance = plainToInstance(type, payload, { enableImplicitConversion: false });
  const errors = await validate(instance, { whitelist: true, forbidUnknownValues: true });
  if (errors.length > 0) {
    throw AppException.validation(flattenValidationErrors(errors));
  }
  return instance;
}
