/**
 * The export file: gzip'd NDJSON, one line a JSON value.
 * - line 1, the header: `{"format":"chat-backend-export","version":1, ...}` (ExportHeader);
 * - one line per row: `[<index of its table in header.tables>,<the row as a JSON object>]`;
 * - the last line, the trailer: `{"end":true,"rows":{...},"sha256":"..."}` (ExportTrailer), the SHA-256 of every
 *   line before it (newlines included). A file without it is truncated.
 */
export const EXPORT_FORMAT = 'chat-backend-export';
export const EXPORT_VERSION = 1;

export interface ExportHeader {
  format: typeof EXPORT_FORMAT;
  version: number;
  createdAt: string;
  /** Which database it was read from: its driver, and an id of the cluster and database (migrate-data resumes by it). */
  source: { driver: string; id: string };
  /** The newest migration the source had applied, and all of them. */
  migration: string;
  migrations: string[];
  tables: { name: string; columns: string[] }[];
  /** Rooms captured at the start: every room's messages up to its last_seq then. */
  watermark: { rooms: number };
  /** Local mode's token signing key, so tokens signed before the move stay valid (local auth only). */
  localJwtSecret?: string;
}

export interface ExportTrailer {
  end: true;
  rows: Record<string, number>;
  /** Rooms of the watermark deleted while the export ran: their rows are left out on import. */
  droppedRooms: string[];
  sha256: string;
}

/** A file that is not a whole, unaltered export. */
export class ExportFileError extends Error {
  override readonly name = 'ExportFileError';
}
