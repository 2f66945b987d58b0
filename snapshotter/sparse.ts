// GNU sparse files in tar archives, as GNU tar writes them (`--sparse`): the old GNU form (type 'S',
// map in the header and in extension blocks after it) and the three PAX forms (0.0: repeated
// GNU.sparse.offset/numbytes records; 0.1: one GNU.sparse.map record; 1.0: the map as decimal text at
// the start of the entry's data). In every form the stored data is the data segments one after the
// other; everything between them is a hole of the real (logical) size.
import { LayerFormatError } from './tar.js';

/** One data segment of a sparse file: `length` bytes of stored data belong at `offset`. */
export interface SparseSegment {
  offset: number;
  length: number;
}

const BLOCK = 512;
// A hostile map could otherwise hold the reader's memory: GNU tar never writes anywhere near this.
export const MAX_SPARSE_SEGMENTS = 1 << 20;
const MAX_MAP_BYTES = 32 << 20;

// Old GNU header: four 24-byte (offset, numbytes) pairs at 386, isextended at 482, realsize at 483;
// each extension block holds 21 pairs and its own isextended flag at 504.
const OLD_GNU = { sparse: 386, pairs: 4, isExtended: 482, realSize: 483 } as const;
const EXT = { pairs: 21, isExtended: 504 } as const;

type NumberField = (b: Buffer, what: string) => number;

function pairsOf(block: Buffer, at: number, count: number, num: NumberField, out: SparseSegment[]): void {
  for (let i = 0; i < count; i++) {
    const off = at + i * 24;
    if (block[off] === 0) return; // An empty slot ends the list.
    out.push({ offset: num(block.subarray(off, off + 12), 'sparse offset'), length: num(block.subarray(off + 12, off + 24), 'sparse length') });
  }
}

/** The map of an old GNU sparse header, reading its extension blocks with `readBlock`. */
export async function readOldGNUSparse(
  hdr: Buffer, readBlock: () => Promise<Buffer>, num: NumberField,
): Promise<{ segments: SparseSegment[]; realSize: number }> {
  const segments: SparseSegment[] = [];
  pairsOf(hdr, OLD_GNU.sparse, OLD_GNU.pairs, num, segments);
  let extended = hdr[OLD_GNU.isExtended] !== 0;
  while (extended) {
    if (segments.length > MAX_SPARSE_SEGMENTS) throw new LayerFormatError(`tar: sparse map has more than ${MAX_SPARSE_SEGMENTS} segments`);
    const block = await readBlock();
    pairsOf(block, 0, EXT.pairs, num, segments);
    extended = block[EXT.isExtended] !== 0;
  }
  return { segments, realSize: num(hdr.subarray(OLD_GNU.realSize, OLD_GNU.realSize + 12), 'sparse real size') };
}

function decimal(s: string, what: string): number {
  const n = Number(s);
  if (!/^[0-9]{1,16}$/.test(s) || !Number.isSafeInteger(n)) throw new LayerFormatError(`tar: invalid ${what} ${JSON.stringify(s.slice(0, 40))}`);
  return n;
}

function pairs(numbers: string[], what: string): SparseSegment[] {
  if (numbers.length % 2 !== 0) throw new LayerFormatError(`tar: ${what} has an odd number of values`);
  if (numbers.length / 2 > MAX_SPARSE_SEGMENTS) throw new LayerFormatError(`tar: sparse map has more than ${MAX_SPARSE_SEGMENTS} segments`);
  const out: SparseSegment[] = [];
  for (let i = 0; i < numbers.length; i += 2) out.push({ offset: decimal(numbers[i]!, what), length: decimal(numbers[i + 1]!, what) });
  return out;
}

/** PAX 0.1 (and 0.0, which the reader folds into the same record): "off,len,off,len...". */
export function parseSparseMap01(map: string): SparseSegment[] {
  if (map === '') return [];
  return pairs(map.split(','), 'GNU.sparse.map');
}

/**
 * PAX 1.0: the map leads the data as "count\n" then "offset\nlength\n" per segment, padded to a block.
 * Returns the map and how many bytes of the entry's data it took.
 */
export async function readSparseMap10(readBlock: () => Promise<Buffer>, dataSize: number): Promise<{ segments: SparseSegment[]; used: number }> {
  const lines: string[] = [];
  let partial = '';
  let used = 0;
  let want: number | undefined;
  while (want === undefined || lines.length < 1 + 2 * want) {
    if (used + BLOCK > dataSize) throw new LayerFormatError('tar: sparse map runs past the end of its entry');
    if (used >= MAX_MAP_BYTES) throw new LayerFormatError('tar: sparse map is too large');
    const block = (await readBlock()).toString('latin1');
    used += BLOCK;
    const parts = (partial + block).split('\n');
    partial = parts.pop()!;
    for (const p of parts) {
      lines.push(p);
      if (want === undefined) {
        want = decimal(p, 'sparse map count');
        if (want > MAX_SPARSE_SEGMENTS) throw new LayerFormatError(`tar: sparse map has more than ${MAX_SPARSE_SEGMENTS} segments`);
      }
      if (lines.length >= 1 + 2 * want) break;
    }
    // A number is at most 16 digits: a longer unfinished line is not a map.
    if ((want === undefined || lines.length < 1 + 2 * want) && partial.length > 16) throw new LayerFormatError('tar: malformed sparse map');
  }
  return { segments: pairs(lines.slice(1, 1 + 2 * want), 'sparse map'), used };
}

/** Segments must be in order, apart, inside the real size, and account for exactly the stored data. */
export function checkSparse(name: string, segments: readonly SparseSegment[], realSize: number, stored: number): void {
  let end = 0;
  let total = 0;
  for (const s of segments) {
    if (s.offset < end || s.offset + s.length > realSize || !Number.isSafeInteger(s.offset + s.length)) {
      throw new LayerFormatError(`tar: ${name}: sparse map has overlapping or out-of-range segments`);
    }
    end = s.offset + s.length;
    total += s.length;
  }
  if (total !== stored) throw new LayerFormatError(`tar: ${name}: sparse map describes ${total} bytes of data, the entry stores ${stored}`);
}
