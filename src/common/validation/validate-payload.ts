import { plainToInstance } from 'class-transformer';
import { validate } from 'class-validator';
import { AppException } from '../errors/app.exception';
import { flattenValidationErrors } from '../http/validation.pipe';
import { screenStrings, screenStructure } from './screen-input';

/**
 * Validates an event payload the way the HTTP ValidationPipe validates a body (same rules, same
 * details), for transports where a thrown pipe error would not reach the caller's ack. In order, each step bounded:
 * an object; no binary attachment or anything else that is not plain JSON, within the depth and size limits,
 * without reading a byte of an attachment or a character of a string; the DTO's fields; the strings it kept.
 */
export async function validatePayload<T extends object>(type: new () => T, payload: unknown): Promise<T> {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    throw AppException.validation([{ field: 'payload', message: 'must be an object' }]);
  }
  screenStructure(payload, 'payload');
  const instance = plainToInstance(type, payload, { enableImplicitConversion: false });
  const errors = await validate(instance, { whitelist: true, forbidUnknownValues: true });
  if (errors.length > 0) {
    throw AppException.validation(flattenValidationErrors(errors));
  }
  return screenStrings(instance, 'payload');
}
