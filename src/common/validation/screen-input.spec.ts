import { randomUUID } from 'node:crypto';
import { ErrorCode } from '../errors/error-code';
import { INPUT_LIMITS, screenStrings, screenStructure } from './screen-input';

/** `{ a: { a: … } }` with `levels` objects, built without recursion. */
function nested(levels: number, leaf: unknown = 1): unknown {
  let value = leaf;
  for (let i = 0; i < levels; i++) {
    value = { a: value };
  }
  return value;
}

describe(screenStructure.name, () => {
  it.each<[string, unknown, string]>([
    ['a Buffer', { roomId: randomUUID(), pad: Buffer.alloc(60_000) }, 'pad'],
    ['a Buffer in a list', { pad: [{}, Buffer.alloc(4)] }, 'pad.1'],
    ['a typed array', { meta: { blob: new Float64Array(2) } }, 'meta.blob'],
    ['a DataView', { view: new DataView(new ArrayBuffer(4)) }, 'view'],
    ['an ArrayBuffer', { raw: new ArrayBuffer(8) }, 'raw'],
    ['a SharedArrayBuffer', { raw: new SharedArrayBuffer(8) }, 'raw'],
  ])('should refuse %s as binary data, naming its field', (_, input, field) => {
    expect(() => screenStructure(input, 'payload')).toThrow(
      expect.objectContaining({
        code: ErrorCode.VALIDATION_FAILED,
        details: [{ field, message: 'must not be binary data' }],
      }),
    );
  });

  it('should name the input itself when it is binary', () => {
    expect(() => screenStructure(Buffer.alloc(8), 'payload')).toThrow(
      expect.objectContaining({ details: [{ field: 'payload', message: 'must not be binary data' }] }),
    );
  });

  it('should refuse a binary without reading its bytes', () => {
    const sut = Buffer.alloc(16);
    const keys = jest.spyOn(Object, 'keys');

    expect(() => screenStructure({ pad: sut }, 'payload')).toThrow('pad: must not be binary data');

    expect(keys.mock.calls.some(([value]) => value === sut)).toBe(false);
    keys.mockRestore();
  });

  it.each<[string, unknown]>([
    ['a Date', new Date()],
    ['a Map', new Map()],
    ['a class instance', new (class Thing {})()],
    ['a function', () => 1],
    ['a bigint', 1n],
  ])('should refuse %s as not plain JSON data', (_, value) => {
    expect(() => screenStructure({ x: value }, 'body')).toThrow(
      expect.objectContaining({ details: [{ field: 'x', message: 'must be plain JSON data' }] }),
    );
  });

  it('should accept plain JSON data, objects without a prototype and a missing body', () => {
    const query = Object.assign(Object.create(null) as object, { q: 'x', limit: '5' });

    expect(() => screenStructure({ a: [1, 'b', null, true, { c: [] }] }, 'body')).not.toThrow();
    expect(() => screenStructure(query, 'query')).not.toThrow();
    expect(() => screenStructure(undefined, 'body')).not.toThrow();
  });

  it(`should accept ${INPUT_LIMITS.maxDepth} levels and refuse one more, naming where`, () => {
    expect(() => screenStructure(nested(INPUT_LIMITS.maxDepth), 'body')).not.toThrow();

    expect(() => screenStructure(nested(INPUT_LIMITS.maxDepth + 1), 'body')).toThrow(
      expect.objectContaining({
        details: [
          {
            field: Array<string>(INPUT_LIMITS.maxDepth + 1)
              .fill('a')
              .join('.'),
            message: `must not be nested more than ${INPUT_LIMITS.maxDepth} levels deep`,
          },
        ],
      }),
    );
  });

  it('should refuse 5,000 levels without overflowing the stack', () => {
    expect(() => screenStructure(nested(5000), 'body')).toThrow(
      expect.objectContaining({ code: ErrorCode.VALIDATION_FAILED }),
    );
  });

  it(`should refuse more than ${INPUT_LIMITS.maxValues} values, naming the input`, () => {
    expect(() => screenStructure({ list: Array<number>(INPUT_LIMITS.maxValues - 2).fill(0) }, 'body')).not.toThrow();

    expect(() => screenStructure({ list: Array<number>(INPUT_LIMITS.maxValues).fill(0) }, 'body')).toThrow(
      expect.objectContaining({
        details: [{ field: 'body', message: `must not hold more than ${INPUT_LIMITS.maxValues} values` }],
      }),
    );
  });

  it('should cut a very long field path', () => {
    const key = 'k'.repeat(1000);

    expect(() => screenStructure({ [key]: Buffer.alloc(1) }, 'payload')).toThrow(
      expect.objectContaining({ details: [{ field: `${'k'.repeat(200)}…`, message: 'must not be binary data' }] }),
    );
  });
});

describe(screenStrings.name, () => {
  it('should refuse NUL characters, naming every field', () => {
    expect(() => screenStrings({ name: 'a\u0000b', ai: { systemPrompt: '\u0000' }, ok: 'fine' }, 'body')).toThrow(
      expect.objectContaining({
        code: ErrorCode.VALIDATION_FAILED,
        details: [
          { field: 'name', message: 'must not contain NUL characters' },
          { field: 'ai.systemPrompt', message: 'must not contain NUL characters' },
        ],
      }),
    );
  });

  it('should replace lone surrogates by U+FFFD in place, and keep whole pairs', () => {
    const input = { name: '\ud800x', ai: { systemPrompt: 'p\udc00' }, tags: ['ok 😀', '\ud83d'] };

    const sut = screenStrings(input, 'body');

    expect(sut).toBe(input);
    expect(sut).toEqual({ name: '\ufffdx', ai: { systemPrompt: 'p\ufffd' }, tags: ['ok 😀', '\ufffd'] });
  });

  it('should answer a string input made well-formed', () => {
    expect(screenStrings('a\ud800', 'payload')).toBe('a\ufffd');
  });

  it('should walk class instances (validated DTOs) too', () => {
    class Dto {
      name = 'x\udfff';
    }

    expect(screenStrings(new Dto(), 'body').name).toBe('x\ufffd');
  });

  it('should refuse 5,000 levels without overflowing the stack', () => {
    expect(() => screenStrings(nested(5000, 'deep'), 'body')).toThrow(
      expect.objectContaining({ code: ErrorCode.VALIDATION_FAILED }),
    );
  });
});
