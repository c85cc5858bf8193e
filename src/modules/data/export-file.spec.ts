import { createHash, randomUUID } from 'node:crypto';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { EXPORT_FORMAT, EXPORT_VERSION, ExportFileError } from './export-format';
import { splitRowLine, verifyExportFile, writeExportFile } from './export-file';

const dirs: string[] = [];

async function tempFile(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'export-file-'));
  dirs.push(dir);
  return join(dir, `${randomUUID()}.ndjson.gz`);
}

function header(overrides: Record<string, unknown> = {}): string {
  return JSON.stringify({
    format: EXPORT_FORMAT,
    version: EXPORT_VERSION,
    tables: [{ name: 'public.things', columns: ['id'] }],
    migrations: [],
    ...overrides,
  });
}

/** A whole export of `rows` (row lines), its trailer computed as the exporter does. */
function exportOf(lines: string[], rows = lines.length - 1): string[] {
  const hash = createHash('sha256');
  lines.forEach((line) => hash.update(`${line}\n`));
  const trailer = { end: true, rows: { 'public.things': rows }, droppedRooms: [], sha256: hash.digest('hex') };
  return [...lines, JSON.stringify(trailer)];
}

function linesOf(lines: string[]): AsyncIterable<string> {
  return Readable.from(lines);
}

afterAll(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

describe(verifyExportFile.name, () => {
  it('should accept a whole export written by writeExportFile, with mode 0600', async () => {
    const path = await tempFile();

    await writeExportFile(path, linesOf(exportOf([header(), '[0,{"id":1}]', '[0,{"id":2}]'])));

    await expect(verifyExportFile(path)).resolves.toMatchObject({ trailer: { rows: { 'public.things': 2 } } });
    expect((await stat(path)).mode & 0o777).toBe(0o600);
  });

  it('should refuse to write an export whose last line is missing, leaving no file (not even its temp file)', async () => {
    const path = await tempFile();

    await expect(writeExportFile(path, linesOf([header(), '[0,{"id":1}]']))).rejects.toThrow(ExportFileError);
    expect(await readdir(dirname(path))).toEqual([]);
  });

  it.each([
    ['a file of another format', [header({ format: 'other' })], /not an export of this app/],
    ['a newer format version', exportOf([header({ version: EXPORT_VERSION + 1 })]), /export format version 2/],
    ['no last line', [header(), '[0,{"id":1}]'], /the last line is missing: the file is truncated/],
    ['a row of no table', exportOf([header(), '[3,{"id":1}]']), /line 2: not a row of this export/],
    ['counts that differ', exportOf([header(), '[0,{"id":1}]'], 2), /public.things holds 1 rows, the file says 2/],
    ['a line after the last', [...exportOf([header()]), '[0,{"id":1}]'], /line 3: lines after the last one/],
  ])('should refuse %s', async (_what, lines, message) => {
    const path = await tempFile();
    await writeFile(path, gzipSync(lines.map((l) => `${l}\n`).join('')));

    await expect(verifyExportFile(path)).rejects.toThrow(message);
  });

  it('should refuse an altered row by its checksum', async () => {
    const path = await tempFile();
    const lines = exportOf([header(), '[0,{"id":1}]']);
    lines[1] = '[0,{"id":9}]';
    await writeFile(path, gzipSync(lines.map((l) => `${l}\n`).join('')));

    await expect(verifyExportFile(path)).rejects.toThrow(/checksum mismatch/);
  });

  it('should refuse a file that is not gzip', async () => {
    const path = await tempFile();
    await writeFile(path, 'plain text\n');

    await expect(verifyExportFile(path)).rejects.toThrow(/not a whole gzip file/);
  });
});

describe(splitRowLine.name, () => {
  it('should give the table index and the row text, unparsed', () => {
    expect(splitRowLine('[12,{"a":[1,2]}]')).toEqual({ table: 12, json: '{"a":[1,2]}' });
  });

  it('should give nothing for a line that is not a row', () => {
    expect(splitRowLine('{"end":true}')).toBeUndefined();
    expect(splitRowLine('[x,{}]')).toBeUndefined();
  });
});
