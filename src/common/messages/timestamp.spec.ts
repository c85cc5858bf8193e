import { types } from 'pg';
import { isoTimestamp, withIsoTimestamps } from './timestamp';

const TIMESTAMPTZ_OID = 1184;
const pgDate = types.getTypeParser(TIMESTAMPTZ_OID) as (text: string) => Date;

describe('isoTimestamp', () => {
  it.each([
    '2026-11-30 16:03:35.123456+00',
    '2026-11-30 16:03:35.1+00',
    '2026-11-30 16:03:35+00',
    '2026-11-30 16:03:35.999999+00',
    '2026-11-30 16:03:35.000500+00',
    '1999-12-31 23:59:59.9995+00',
    '2026-11-30 18:03:35.123456+02',
    '2026-11-30 11:03:35.5-05',
    '2026-11-30 16:03:35.123456+05:30',
  ])('should give the ISO text Date gives for the column text %s', (text) => {
    expect(isoTimestamp(text)).toBe(pgDate(text).toISOString());
  });

  it.each([
    ['2026-11-30T16:03:35.123456+00:00', '2026-11-30T16:03:35.123Z'],
    ['2026-11-30T16:03:35+00:00', '2026-11-30T16:03:35.000Z'],
    ['2026-11-30T16:03:35.123Z', '2026-11-30T16:03:35.123Z'],
    ['2026-11-30T18:03:35.123456+02:00', '2026-11-30T16:03:35.123Z'],
  ])('should read a JSON timestamp %s as %s', (text, iso) => {
    expect(isoTimestamp(text)).toBe(iso);
  });

  it('should format a Date', () => {
    expect(isoTimestamp(new Date(Date.UTC(2026, 10, 30, 16, 3, 35, 7)))).toBe('2026-11-30T16:03:35.007Z');
  });
});

describe('withIsoTimestamps', () => {
  it('should rewrite the *_at text timestamps of a JSON row in place and leave everything else', () => {
    const row = {
      created_at: '2026-11-30T16:03:35.123456+00:00',
      updated_at: '2026-11-30 16:03:35+00',
      deleted_at: null,
      content: '2026-11-30T16:03:35.123456+00:00',
      seq: 3,
    };

    const sut = withIsoTimestamps(row);

    expect(sut).toBe(row);
    expect(sut).toEqual({
      created_at: '2026-11-30T16:03:35.123Z',
      updated_at: '2026-11-30T16:03:35.000Z',
      deleted_at: null,
      content: '2026-11-30T16:03:35.123456+00:00',
      seq: 3,
    });
  });

  it('should give back what is not an object as it is', () => {
    expect(withIsoTimestamps(null)).toBeNull();
    expect(withIsoTimestamps('text')).toBe('text');
  });
});
