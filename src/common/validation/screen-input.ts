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

type Holder = Record<string, unknown>;

/**
 * Refuses, before anything else reads it, what no body or event of ours holds: binary data (a Buffer, an
 * ArrayBuffer, a typed array or DataView: refused whole, its bytes never read), anything that is not plain JSON
 * data (class instances, Maps, functions), nesting deeper than `maxDepth`, more than `maxValues` values. Strings
 * are not read. `root` names the input itself in the details (`body`, `payload`).
 */
export function screenStructure(input: unknown, root: string): void {
  const walk = new Walk(root);
  const screen = (value: unknown): void => {
    if (isBinary(value)) {
      walk.refuse('must not be binary data');
    }
    if (!isJsonValue(value)) {
      walk.refuse('must be plain JSON data');
    }
    if (typeof value === 'object' && value !== null) {
      walk.children(value, screenChild);
    }
  };
  const screenChild = (holder: Holder, key: string): void => screen(holder[key]);
  screen(input);
}

/**
 * The strings of a validated input, made storable: a NUL character, which no Postgres text holds, is refused
 * (the field named); a lone surrogate becomes U+FFFD, as the UTF-8 encoding of the text would make it, whatever
 * path the text takes to the database (a text parameter, or JSON that Postgres would refuse). Strings are replaced
 * in place; the input (or the replaced string, for a string input) is returned. Binary data is not entered (an
 * input has been through screenStructure, which refuses it).
 */
export function screenStrings<T>(input: T, root: string): T {
  const walk = new Walk(root);
  const refused: ErrorDetail[] = [];
  /** The value to keep in place of `value`: itself, or a string made well-formed. */
  const screen = (value: unknown): unknown => {
    if (typeof value === 'string') {
      if (!value.includes('\u0000')) {
        return isWellFormed(value) ? value : toWellFormed(value);
      }
      if (refused.length < MAX_DETAILS) {
        refused.push({ field: walk.field(), message: 'must not contain NUL characters' });
      }
    } else if (typeof value === 'object' && value !== null && !isBinary(value)) {
      walk.children(value, screenChild);
    }
    return value;
  };
  const screenChild = (holder: Holder, key: string): void => {
    const value = holder[key];
    const kept = screen(value);
    if (kept !== value) {
      holder[key] = kept;
    }
  };
  const result = screen(input) as T;
  if (refused.length > 0) {
    throw AppException.validation(refused);
  }
  return result;
}

/**
 * One walk over an input, depth first within INPUT_LIMITS: it counts the values met and keeps the path to the one
 * at hand, which only a refusal reads. The depth bound also bounds the recursion of the walks above.
 */
class Walk {
  private readonly path: string[] = [];
  /** The input itself, and every property of the objects entered so far. */
  private values = 1;

  constructor(private readonly root: string) {}

  /** Calls `visit` with each own enumerable property of `object`, one level deeper. */
  children(object: object, visit: (holder: Holder, key: string) => void): void {
    const keys = Object.keys(object);
    this.values += keys.length;
    if (this.values > INPUT_LIMITS.maxValues) {
      throw AppException.validation([
        { field: this.root, message: `must not hold more than ${INPUT_LIMITS.maxValues} values` },
      ]);
    }
    for (const key of keys) {
      this.path.push(key);
      if (this.path.length > INPUT_LIMITS.maxDepth) {
        this.refuse(`must not be nested more than ${INPUT_LIMITS.maxDepth} levels deep`);
      }
      visit(object as Holder, key);
      this.path.pop();
    }
  }

  /** The dotted path of the value at hand (`ai.mode`), or `root` for the input itself. */
  field(): string {
    const field = this.path.length > 0 ? this.path.join('.') : this.root;
    return field.length > MAX_FIELD_LENGTH ? `${field.slice(0, MAX_FIELD_LENGTH)}…` : field;
  }

  refuse(message: string): never {
    throw AppException.validation([{ field: this.field(), message }]);
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

/** ES2024's String.prototype.isWellFormed and toWellFormed (Node 20), which the ES2023 lib does not declare. */
type Es2024String = string & { isWellFormed(): boolean; toWellFormed(): string };

function isWellFormed(text: string): boolean {
  return (text as Es2024String).isWellFormed();
}

function toWellFormed(text: string): string {
  return (text as Es2024String).toWellFormed();
}
