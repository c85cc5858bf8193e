/** Postgres's text forms of a UTC timestamptz: `2026-11-30 16:03:35.123456+00` (a column), `…T…+00:00` (JSON). */
const UTC_TIMESTAMP = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?(?:\+00(?::00)?|Z)$/;

/**
 * A timestamp as the contract writes it (`2026-11-30T16:03:35.123Z`, milliseconds, UTC). A UTC text from Postgres
 * is rewritten as text (its fraction cut to milliseconds, as Date does), without a Date in between — the hot path
 * of every message row; anything else (another offset, a Date) goes through Date.
 */
export function isoTimestamp(value: Date | string): string {
  if (typeof value === 'string') {
    const utc = UTC_TIMESTAMP.exec(value);
    if (utc) {
      return `${utc[1]}T${utc[2]}.${(utc[3] ?? '').padEnd(3, '0').slice(0, 3)}Z`;
    }
  }
  return new Date(value).toISOString();
}

/**
 * A row read from JSON (PostgREST's answer, a commit group's `json_agg`), in place: its `*_at` text timestamps in the
 * contract's form, as the pg driver's column parser gives them.
 */
export function withIsoTimestamps<T>(row: T): T {
  if (typeof row === 'object' && row !== null) {
    const fields = row as Record<string, unknown>;
    for (const key in fields) {
      const value = fields[key];
      if (typeof value === 'string' && key.endsWith('_at')) {
        fields[key] = isoTimestamp(value);
      }
    }
  }
  return row;
}
