// A compact file of per-path records: a path and a fixed number of float64s each, for the
// per-file indexes of a snapshot (tarindex.ts, builder/copybase.ts). Tens of thousands of entries
// are kept as bytes while written and as one Map of path → row (numbers in a Float64Array) when
// read, not as an object per entry: a large context's build stays within its memory bound.
import { readFile } from 'node:fs/promises';

const CHUNK = 64 * 1024;

export class PathRecordWriter {
  private readonly chunks: Buffer[] = [];
  private buf = Buffer.allocUnsafe(CHUNK);
  private used = 0;
  count = 0;

  constructor(private readonly width: number) {}

  add(p: string, values: readonly number[]): void {
    const need = 4 + Buffer.byteLength(p) + this.width * 8;
    if (this.used + need > this.buf.length) {
      this.chunks.push(this.buf.subarray(0, this.used));
      this.buf = Buffer.allocUnsafe(Math.max(CHUNK, need));
      this.used = 0;
    }
    const len = this.buf.write(p, this.used + 4, 'utf8');
    this.buf.writeUInt32LE(len, this.used);
    this.used += 4 + len;
    for (let i = 0; i < this.width; i++) this.used = this.buf.writeDoubleLE(values[i] ?? 0, this.used);
    this.count++;
  }

  /** The records after a header (`magic`, a NUL, a JSON line of what the reader checks). */
  encode(magic: string, head: object): Buffer {
    return Buffer.concat([Buffer.from(`${magic}\0${JSON.stringify(head)}\n`), ...this.chunks, this.buf.subarray(0, this.used)]);
  }
}

export interface PathRecords<H> {
  head: H;
  /** path → row; a path written twice keeps its last record. */
  rows: Map<string, number>;
  values: Float64Array;
  width: number;
}

/** Reads a file made by PathRecordWriter.encode; undefined when missing, foreign or torn. */
export async function readPathRecords<H>(file: string, magic: string, width: number): Promise<PathRecords<H> | undefined> {
  const buf = await readFile(file).catch(() => undefined);
  if (!buf || buf.toString('latin1', 0, magic.length + 1) !== `${magic}\0`) return undefined;
  const nl = buf.indexOf(10, magic.length + 1);
  if (nl < 0) return undefined;
  let head: H;
  try {
    head = JSON.parse(buf.toString('utf8', magic.length + 1, nl)) as H;
  } catch {
    return undefined;
  }
  const rows = new Map<string, number>();
  let values = new Float64Array(1024 * width);
  let off = nl + 1;
  let n = 0;
  while (off < buf.length) {
    if (off + 4 > buf.length) return undefined;
    const len = buf.readUInt32LE(off);
    const end = off + 4 + len + width * 8;
    if (end > buf.length) return undefined;
    if ((n + 1) * width > values.length) {
      const grown = new Float64Array(values.length * 2);
      grown.set(values);
      values = grown;
    }
    rows.set(buf.toString('utf8', off + 4, off + 4 + len), n);
    for (let i = 0; i < width; i++) values[n * width + i] = buf.readDoubleLE(off + 4 + len + i * 8);
    n++;
    off = end;
  }
  return { head, rows, values, width };
}
