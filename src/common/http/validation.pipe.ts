import { type ArgumentMetadata, ValidationPipe, type ValidationError } from '@nestjs/common';
import { AppException } from '../errors/app.exception';
import type { ErrorDetail } from '../errors/error-code';
import { screenStrings, screenStructure } from '../validation/screen-input';

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

/**
 * Bodies and query strings: their structure is screened first (bounded depth and size, plain JSON only), then the
 * DTO validated, then the strings of what it kept made storable (no NUL, no lone surrogate). See screen-input.ts.
 */
class AppValidationPipe extends ValidationPipe {
  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (metadata.type !== 'body' && metadata.type !== 'query') {
      return super.transform(value, metadata) as Promise<unknown>;
    }
    screenStructure(value, metadata.type);
    const validated = (await super.transform(value, metadata)) as unknown;
    return screenStrings(validated, metadata.type);
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
