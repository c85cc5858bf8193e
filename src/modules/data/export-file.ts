/**
 * Export files on disk: written gzip'd, mode 0600 (they hold password hashes and the local signing key), and
 * atomically — to a temp file beside the target, synced, then renamed over it — so a reader never sees half a file.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import { EXPORT_FORMAT, EXPORT_VERSION, ExportFileError, type ExportHeader, type ExportTrailer } from './export-format';

export const EXPORT_FILE_MODE = 0o600;

/** Writes `lines` to `path` (gzip'd, mode 0600, atomically); returns the bytes written and the last line. */
export async function writeExportFile(
  path: string,
  lines: AsyncIterable<string>,
): Promise<{ bytes: number; trailer: ExportTrailer }> {
  const temp = join(dirname(path), `.${basename(path)}.${randomUUID()}.tmp`);
  const handle = await open(temp, 'wx', EXPORT_FILE_MODE);
  let last = '';
  try {
    await chmod(temp, EXPORT_FILE_MODE);
    async function* withNewlines() {
      for await (const line of lines) {
        last = line;
        yield `${line}\n`;
      }
    }
    await pipeline(Readable.from(withNewlines()), createGzip(), async (gzipped: AsyncIterable<Buffer>) => {
      for await (const chunk of gzipped) {
        await handle.write(chunk);
      }
    });
    if (!last.startsWith('{"end":true')) {
      throw new ExportFileError('the export ended before its last line');
    }
    await handle.sync();
    const { size } = await handle.stat();
    await handle.close();
    await rename(temp, path);
    await syncDir(dirname(path));
    return { bytes: size, trailer: JSON.parse(last) as ExportTrailer };
  } catch (error) {
    await handle.close().catch(() => undefined);
    await rm(temp, { force: true });
    throw error;
  }
}

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** The lines of an export file; a file that is not whole gzip fails with ExportFileError. */
export async function* readExportLines(path: string): AsyncGenerator<string> {
  const gunzip = createGunzip();
  const input = createReadStream(path);
  input.on('error', (error) => gunzip.destroy(error));
  const lines = createInterface({ input: input.pipe(gunzip), crlfDelay: Infinity });
  try {
    for await (const line of lines) {
      yield line;
    }
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EACCES') {
      throw error;
    }
    throw new ExportFileError(`${path}: not a whole gzip file (${(error as Error).message}); truncated or damaged`);
  }
}

/** A row line: its table's index and the row's JSON text (not parsed here: the database reads it). */
export function splitRowLine(line: string): { table: number; json: string } | undefined {
  if (!line.startsWith('[') || !line.endsWith(']')) {
    return undefined;
  }
  const comma = line.indexOf(',');
  const table = Number(line.slice(1, comma));
  return comma > 1 && Number.isInteger(table) ? { table, json: line.slice(comma + 1, -1) } : undefined;
}

/**
 * Reads the whole file once and checks it is an unaltered export of this format: the header, every line's shape,
 * the row counts and the checksum of the trailer. Nothing is written anywhere before this passed.
 */
export async function verifyExportFile(path: string): Promise<{ header: ExportHeader; trailer: ExportTrailer }> {
  const hash = createHash('sha256');
  let header: ExportHeader | undefined;
  let trailer: ExportTrailer | undefined;
  let lineNo = 0;
  const counts: number[] = [];
  for await (const line of readExportLines(path)) {
    lineNo += 1;
    if (trailer) {
      throw new ExportFileError(`${path}: line ${lineNo}: lines after the last one`);
    }
    if (!header) {
      header = parseHeader(path, line);
      counts.push(...header.tables.map(() => 0));
    } else if (line.startsWith('{')) {
      trailer = parseJson<ExportTrailer>(path, lineNo, line);
      if (trailer.end !== true || typeof trailer.sha256 !== 'string') {
        throw new ExportFileError(`${path}: line ${lineNo}: not a row and not the last line`);
      }
      continue;
    } else {
      const row = splitRowLine(line);
      if (!row || row.table < 0 || row.table >= counts.length) {
        throw new ExportFileError(`${path}: line ${lineNo}: not a row of this export`);
      }
      counts[row.table] += 1;
    }
    hash.update(`${line}\n`);
  }
  if (!header) {
    throw new ExportFileError(`${path}: empty file`);
  }
  if (!trailer) {
    throw new ExportFileError(`${path}: the last line is missing: the file is truncated`);
  }
  if (hash.digest('hex') !== trailer.sha256) {
    throw new ExportFileError(`${path}: checksum mismatch: the file was altered or damaged`);
  }
  header.tables.forEach((table, i) => {
    if ((trailer.rows[table.name] ?? 0) !== counts[i]) {
      throw new ExportFileError(`${path}: ${table.name} holds ${counts[i]} rows, the file says ${trailer.rows[table.name]}`);
    }
  });
  return { header, trailer };
}

function parseHeader(path: string, line: string): ExportHeader {
  const header = parseJson<{ format?: unknown; version?: unknown }>(path, 1, line);
  if (header.format !== EXPORT_FORMAT) {
    throw new ExportFileError(`${path}: not an export of this app (no "${EXPORT_FORMAT}" header)`);
  }
  if (header.version !== EXPORT_VERSION) {
    throw new ExportFileError(
      `${path}: export format version ${String(header.version)}; this version reads ${EXPORT_VERSION}`,
    );
  }
  return header as ExportHeader;
}

function parseJson<T>(path: string, lineNo: number, line: string): T {
  try {
    return JSON.parse(line) as T;
  } catch {
    throw new ExportFileError(`${path}: line ${lineNo} is not JSON`);
  }
}
