import { AppException } from '../errors/app.exception';
import type { ErrorDetail } from '../errors/error-code';
import { screenStrings, screenStructure } from './screen-input';

/** One constraint of a field: class-validator's own check function and the DTO's message for it. */
export interface FieldCheck {
  readonly test: (value: unknown) => boolean;
  readonly message: string;
}

/** Every field of a DTO whose fields are all required, with its checks in the order class-validator runs them. */
export type FastSchema<T> = { readonly [K in keyof T]-?: readonly FieldCheck[] };

/**
 * validatePayload for the hot events (a send, a typing update), without class-transformer and the decorator
 * metadata walk: the same steps in the same order (an object; its structure screened; each field's checks;
 * only the schema's fields kept; their strings screened), the same error details. fast-payload.spec.ts holds
 * it to validatePayload's answers on hostile payloads.
 */
export function validateFast<T extends object>(schema: FastSchema<T>, payload: unknown): T {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    throw AppException.validation([{ field: 'payload', message: 'must be an object' }]);
  }
  screenStructure(payload, 'payload');
  const source = payload as Record<string, unknown>;
  const kept: Record<string, unknown> = {};
  const details: ErrorDetail[] = [];
  for (const field of Object.keys(schema) as (keyof T & string)[]) {
    const value = Object.hasOwn(source, field) ? source[field] : undefined;
    for (const check of schema[field]) {
      if (!check.test(value)) {
        details.push({ field, message: check.message });
      }
    }
    if (value !== undefined) {
      kept[field] = value;
    }
  }
  if (details.length > 0) {
    throw AppException.validation(details);
  }
  return screenStrings(kept as T, 'payload');
}
