// Reads one string column of a Parquet file synchronously. The task contract's `makeData` is
// synchronous (src/tasks/types.ts) but hyparquet's reader is async, so a short-lived child Node
// process runs hyparquet and writes the column as JSON lines to a temp file. Used once per corpus:
// the token cache (cache.ts) makes later runs skip it.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { InputError } from '../../util/errors.js';

const CHILD = `
const [, url, file, column, out] = process.argv;
const { asyncBufferFromFile, parquetReadObjects, parquetMetadataAsync, parquetSchema } = await import(url);
const { writeFileSync } = await import('node:fs');
const buf = await asyncBufferFromFile(file);
const meta = await parquetMetadataAsync(buf);
const names = parquetSchema(meta).children.map((c) => c.element.name);
if (!names.includes(column)) { process.stderr.write('NO_COLUMN ' + names.join(',')); process.exit(3); }
const rows = await parquetReadObjects({ file: buf, metadata: meta, columns: [column] });
writeFileSync(out, rows.map((r) => JSON.stringify(r[column] ?? null)).join('\\n'));
`;

/**
 * The values of `column` in every row of a Parquet file, in file order.
 * @param file   Parquet file (any codec hyparquet reads: uncompressed, snappy)
 * @param column a top-level column holding strings
 */
export function readParquetColumnSync(file: string, column: string): unknown[] {
  const hyparquet = pathToFileURL(createRequire(import.meta.url ?? __filename).resolve('hyparquet')).href;
  const dir = mkdtempSync(join(tmpdir(), 'metala-parquet-'));
  const out = join(dir, 'column.jsonl');
  try {
    execFileSync(process.execPath, ['--input-type=module', '-e', CHILD, hyparquet, file, column, out], { stdio: ['ignore', 'ignore', 'pipe'] });
    const text = readFileSync(out, 'utf8');
    return text === '' ? [] : text.split('\n').map((l) => JSON.parse(l) as unknown);
  } catch (e) {
    const stderr = String((e as { stderr?: Buffer }).stderr ?? '');
    if (stderr.startsWith('NO_COLUMN')) {
      throw new InputError(`${file}: no column '${column}' (columns: ${stderr.slice(10)}). Set task.text_field to the text column`);
    }
    if (e instanceof InputError) throw e;
    throw new InputError(`${file}: cannot read as Parquet (${stderr.split('\n').find((l) => l.trim() !== '') ?? (e as Error).message}). Is it a Parquet file?`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
