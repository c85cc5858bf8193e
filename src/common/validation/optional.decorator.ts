import { ValidateIf } from 'class-validator';

/**
 * The field may be left out; when present it is validated, `null` included (class-validator's
 * IsOptional would let `null` through, and a PATCH would then store it or fail deep in the database).
 */
export const Optional = (): PropertyDecorator => ValidateIf((_, value) => value !== undefined);
