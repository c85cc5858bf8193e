import { AppException } from '../errors/app.exception';
import type { ErrorDetail } from '../errors/error-code';

/**
 * How far any walk over a request body or an event payload goes. No body or event of ours comes near either
 * (the deepest field is `ai.mode`); the bounds keep one hostile input from costing more than a few milliseconds or
 * overflowing the stack.
 */
export const INPUT_LIMITS = { maxDepth: 32, maxValues: 10_000 } as const;

/** At most this many details for one input (a thousand NUL strings need not be listed one by one). */
const MAX_DETAILS = 20;
/** A field path echoed back is cut here (a key may be as long as the input). */
const MAX_FIELD_LENGTH = 200;

interface Frame {
  value: unknown;
  depth: number;
  key?: string;
  parent?: Frame;
}

/**
 * Refuses, before anything else reads it, what no body or event of ours holds: binary data (a Buffer, an
 * ArrayBuffer, a typed array or DataView: refused whole, its bytes never read), anything that is not plain JSON
 * data (class instances, Maps, functions), nesting deeper than `maxDepth`, more than `maxValues` values. Strings
 * are not read. `root` names the input itself in the details (`body`, `payload`).
 */
export function screenStructure(input: unknown, root: string): void {
  walk(input, root, (value, frame) => {
    if (isBinary(value)) {
      throw AppException.validation([{ field: fieldOf(frame, root), message: 'must not be binary data' }]);
    }
    if (!isJsonValue(value)) {
      throw AppException.validation([{ field: fieldOf(frame, root), message: 'must be plain JSON data' }]);
    }
    return true;
  });
}

/**
 * The strings of a validated input, made storable: a NUL character, which no Postgres text holds, is refused
 * (the field named); a lone surrogate becomes U+FFFD, as the UTF-8 encoding of the text would make it, whatever
 * path the text takes to the database (a text parameter, or JSON that Postgres would refuse). Strings are replaced
 * in place; the input (or the replaced string, for a string input) is returned.
 */
export function screenStrings<T>(input: T, root: string): T {
  const refused: ErrorDetail[] = [];
  let result: unknown = input;
  walk(input, root, (value, frame) => {
    if (typeof value !== 'string') {
      return !isBinary(value);
    }
    if (value.includes('\u0000')) {
      if (refused.length < MAX_DETAILS) {
        refused.push({ field: fieldOf(frame, root), message: 'must not contain NUL characters' });
      }
      return false;
    }
    if (!isWellFormed(value)) {
      const fixed = toWellFormed(value);
      if (frame.parent) {
        (frame.parent.value as Record<string, unknown>)[frame.key as string] = fixed;
      } else {
        result = fixed;
      }
    }
    return false;
  });
  if (refused.length > 0) {
    throw AppException.validation(refused);
  }
  return result as T;
}

/**
 * Depth first over the input's own enumerable properties, with a stack of its own (no recursion, whatever the
 * depth), within INPUT_LIMITS. `visit` returns false to leave a value's inside unvisited.
 */
function walk(input: unknown, root: string, visit: (value: unknown, frame: Frame) => boolean): void {
  const stack: Frame[] = [{ value: input, depth: 0 }];
  let visited = 0;
  for (let frame = stack.pop(); frame; frame = stack.pop()) {
    visited += 1;
    if (frame.depth > INPUT_LIMITS.maxDepth) {
      throw AppException.validation([
        { field: fieldOf(frame, root), message: `must not be nested more than ${INPUT_LIMITS.maxDepth} levels deep` },
      ]);
    }
    const { value } = frame;
    if (!visit(value, frame) || typeof value !== 'object' || value === null) {
      continue;
    }
    const keys = Object.keys(value);
    if (visited + stack.length + keys.length > INPUT_LIMITS.maxValues) {
      throw AppException.validation([
        { field: root, message: `must not hold more than ${INPUT_LIMITS.maxValues} values` },
      ]);
    }
    for (let i = keys.length - 1; i >= 0; i--) {
      const key = keys[i];
      stack.push({ value: (value as Record<string, unknown>)[key], depth: frame.depth + 1, key, parent: frame });
    }
  }
}

function isBinary(value: unknown): boolean {
  return (
    ArrayBuffer.isView(value) ||
    value instanceof ArrayBuffer ||
    (typeof SharedArrayBuffer !== 'undefined' && value instanceof SharedArrayBuffer)
  );
}

/**
 * What JSON.parse can give (null, a boolean, a number, a string, an array, an object of the Object prototype or
 * none, as a parsed query string is), or nothing at all (a request without a body).
 */
function isJsonValue(value: unknown): boolean {
  switch (typeof value) {
    case 'string':
    case 'number':
    case 'boolean':
    case 'undefined':
      return true;
    case 'object': {
      if (value === null || Array.isArray(value)) {
        return true;
      }
      const prototype: unknown = Object.getPrototypeOf(value);
      return prototype === Object.prototype || prototype === null;
    }
    case 'bigint':
    case 'symbol':
    case 'function':
      return false;
  }
}

/** The dotted path of a value (`ai.mode`), or `root` for the input itself. */
function fieldOf(frame: Frame, root: string): string {
  const keys: string[] = [];
  for (let at: Frame | undefined = frame; at?.key !== undefined; at = at.parent) {
    keys.push(at.key);
  }
  const field = keys.length > 0 ? keys.reverse().join('.') : root;
  return field.length > MAX_FIELD_LENGTH ? `${field.slice(0, MAX_FIELD_LENGTH)}…` : field;
}

/** ES2024's String.prototype.isWellFormed and toWellFormed (Node 20), which the ES2023 lib does not declare. */
type Es2024String = string & { isWellFormed(): boolean; toWellFormed(): string };

function isWellFormed(text: string): boolean {
  return (text as Es2024String).isWellFormed();
}

function toWellFormed(text: string): string {
  return (text as Es2024String).toWellFormed();
}
