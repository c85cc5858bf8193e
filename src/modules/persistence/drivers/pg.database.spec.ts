import { literal } from './pg.database';

describe('literal', () => {
  it.each([
    ['a plain string', 'hello', "'hello'"],
    ['quotes, doubled', "it's '; drop table x; --", "'it''s ''; drop table x; --'"],
    ['backslashes, in an E string', 'a\\b', " E'a\\\\b'"],
    ['a number, quoted (Postgres gives it the parameter type)', 42, "'42'"],
    ['a boolean', true, "'true'"],
    ['a date, as ISO 8601', new Date('2026-11-27T10:00:00.000Z'), "'2026-11-27T10:00:00.000Z'"],
    ['an object, as its JSON', { name: "O'Brien" }, `'{"name":"O''Brien"}'`],
    ['null', null, 'null'],
    ['undefined, as null', undefined, 'null'],
  ])('should write %s', (_label, value, expected) => {
    expect(literal(value)).toBe(expected);
  });

  it('should refuse a NUL character, which would cut a simple query short, as invalid input (CH400)', () => {
    expect(() => literal('before\0after')).toThrow(expect.objectContaining({ code: 'CH400' }));
  });

  it.each([
    ['a function', () => 1],
    ['a symbol', Symbol('s')],
    ['a bigint', BigInt(1)],
  ])('should refuse %s', (_label, value) => {
    expect(() => literal(value)).toThrow('Cannot pass');
  });
});
