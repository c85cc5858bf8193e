import { type ArgumentMetadata, ValidationPipe, type ValidationError } from '@nestjs/common';
import { AppException } from '../errors/app.exception';
import type { ErrorDetail } from '../errors/error-code';

/** Flattens class-validator's tree into `{ field, message }` with dotted paths (`ai.mode`). */
export function flattenValidationErrors(errors: ValidationError[], parent = ''): ErrorDetail[] {
  return errors.flatMap((error) => {
    const field = parent ? `${parent}.${error.property}` : error.property;
    const own = Object.values(error.constraints ?? {}).map((message) => ({
      field,
      message: message.startsWith(`${error.property} `) ? message.slice(error.property.length + 1) : message,
    }));
    return [...own, ...flattenValidationErrors(error.children ?? [], field)];
  });
}

/** Dotted paths of every string in `value` that holds a NUL character, which no Postgres text can store. */
export function findNulStrings(value: unknown, path = ''): string[] {
  if (typeof value === 'string') {
    return value.includes('\u0000') ? [path || 'value'] : [];
  }
  if (typeof value !== 'object' || value === null) {
    return [];
  }
  return Object.entries(value).flatMap(([key, item]) => findNulStrings(item, path ? `${path}.${key}` : key));
}

/** Rejects NUL characters anywhere in the input, then validates the DTO. */
export function rejectNulStrings(value: unknown): void {
  const fields = findNulStrings(value);
  if (fields.length > 0) {
    throw AppException.validation(fields.map((field) => ({ field, message: 'must not contain NUL characters' })));
  }
}

class AppValidationPipe extends ValidationPipe {
  override transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (metadata.type === 'body' || metadata.type === 'query') {
      rejectNulStrings(value);
    }
    return super.transform(value, metadata) as Promise<unknown>;
  }
}

export function createValidationPipe(): ValidationPipe {
  return new AppValidationPipe({
    whitelist: true,
    transform: true,
    forbidUnknownValues: true,
    validationError: { target: false, value: false },
    exceptionFactory: (errors) => AppException.validation(flattenValidationErrors(errors)),
  });
}
