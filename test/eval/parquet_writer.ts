// A minimal Parquet writer for test fixtures (no Parquet writer is installed): one row group,
// REQUIRED flat columns of UTF-8 strings or INT64, PLAIN encoding, uncompressed v1 data pages,
// FileMetaData in Thrift's compact protocol — the layout of the Apache Parquet format spec
// (parquet.thrift). Real Hugging Face files add dictionaries, snappy and nesting, which hyparquet
// reads too; this only has to be a valid file.

type Column = { name: string; kind: 'string'; values: string[] } | { name: string; kind: 'int64'; values: number[] };

class Compact {
  bytes: number[] = [];
  private last: number[] = [0];

  varint(n: number): void {
    let v = n;
    while (v >= 0x80) {
      this.bytes.push((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    this.bytes.push(v);
  }
  private zigzag(n: number): void {
    this.varint(n >= 0 ? 2 * n : -2 * n - 1);
  }
  private field(id: number, type: number): void {
    const delta = id - this.last[this.last.length - 1]!;
    if (delta > 0 && delta <= 15) this.bytes.push((delta << 4) | type);
    else {
      this.bytes.push(type);
      this.zigzag(id);
    }
    this.last[this.last.length - 1] = id;
  }
  i32(id: number, v: number): void {
    this.field(id, 5);
    this.zigzag(v);
  }
  i64(id: number, v: number): void {
    this.field(id, 6);
    this.zigzag(v);
  }
  str(id: number, s: string): void {
    this.field(id, 8);
    const b = Buffer.from(s, 'utf8');
    this.varint(b.length);
    this.bytes.push(...b);
  }
  begin(id: number): void {
    this.field(id, 12);
    this.last.push(0);
  }
  end(): void {
    this.bytes.push(0);
    this.last.pop();
  }
  /** A list header; elements follow (structs: call beginElem/end for each). */
  list(id: number, elemType: number, size: number): void {
    this.field(id, 9);
    if (size < 15) this.bytes.push((size << 4) | elemType);
    else {
      this.bytes.push(0xf0 | elemType);
      this.varint(size);
    }
  }
  beginElem(): void {
    this.last.push(0);
  }
  elemI32(v: number): void {
    this.zigzag(v);
  }
  elemStr(s: string): void {
    const b = Buffer.from(s, 'utf8');
    this.varint(b.length);
    this.bytes.push(...b);
  }
}

function plainValues(c: Column): Buffer {
  if (c.kind === 'int64') {
    const b = Buffer.alloc(8 * c.values.length);
    c.values.forEach((v, i) => b.writeBigInt64LE(BigInt(v), 8 * i));
    return b;
  }
  return Buffer.concat(c.values.map((s) => {
    const body = Buffer.from(s, 'utf8');
    const len = Buffer.alloc(4);
    len.writeUInt32LE(body.length);
    return Buffer.concat([len, body]);
  }));
}

/** A Parquet file holding `columns` (all the same length) as bytes. */
export function writeParquet(columns: Column[]): Buffer {
  const n = columns[0]!.values.length;
  const chunks: Buffer[] = [Buffer.from('PAR1')];
  let offset = 4;
  const metas: { c: Column; offset: number; size: number }[] = [];
  for (const c of columns) {
    const data = plainValues(c);
    const h = new Compact();
    h.i32(1, 0); // DATA_PAGE
    h.i32(2, data.length);
    h.i32(3, data.length);
    h.begin(5);
    h.i32(1, n);
    h.i32(2, 0); // PLAIN
    h.i32(3, 3); // RLE
    h.i32(4, 3);
    h.end();
    h.bytes.push(0);
    const page = Buffer.concat([Buffer.from(h.bytes), data]);
    metas.push({ c, offset, size: page.length });
    chunks.push(page);
    offset += page.length;
  }
  const m = new Compact();
  m.i32(1, 1);
  m.list(2, 12, columns.length + 1);
  m.beginElem();
  m.str(4, 'schema');
  m.i32(5, columns.length);
  m.end();
  for (const c of columns) {
    m.beginElem();
    m.i32(1, c.kind === 'int64' ? 2 : 6);
    m.i32(3, 0); // REQUIRED
    m.str(4, c.name);
    if (c.kind === 'string') m.i32(6, 0); // UTF8
    m.end();
  }
  m.i64(3, n);
  m.list(4, 12, 1);
  m.beginElem();
  m.list(1, 12, metas.length);
  for (const { c, offset: off, size } of metas) {
    m.beginElem();
    m.i64(2, off);
    m.begin(3);
    m.i32(1, c.kind === 'int64' ? 2 : 6);
    m.list(2, 5, 2);
    m.elemI32(0);
    m.elemI32(3);
    m.list(3, 8, 1);
    m.elemStr(c.name);
    m.i32(4, 0); // UNCOMPRESSED
    m.i64(5, n);
    m.i64(6, size);
    m.i64(7, size);
    m.i64(9, off);
    m.end();
    m.end();
  }
  m.i64(2, offset - 4);
  m.i64(3, n);
  m.end();
  m.str(6, 'metala test/eval/parquet_writer.ts');
  m.bytes.push(0);
  const meta = Buffer.from(m.bytes);
  const len = Buffer.alloc(4);
  len.writeUInt32LE(meta.length);
  chunks.push(meta, len, Buffer.from('PAR1'));
  return Buffer.concat(chunks);
}
