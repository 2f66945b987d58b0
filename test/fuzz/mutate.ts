// A small seeded mutation fuzzer (AFL's havoc stage in spirit): each input is a seed from the
// corpus with a few random edits stacked on it. Seeded, so a run is reproducible from its seed.

/** mulberry32: a tiny, fast, seedable PRNG, good enough to pick mutations. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
}

// Values that make parsers take their edge paths: boundaries of signed/unsigned widths, NUL, high bit.
const INTERESTING = [0x00, 0x01, 0x7f, 0x80, 0xff, 0x20, 0x0a, 0x0d, 0x5c, 0x22, 0x27, 0x24, 0x7b, 0x7d, 0x2f, 0x2e, 0x30, 0x37, 0x38];

export interface MutateOptions {
  /** Tokens the format cares about (keywords, record names), inserted or overwritten whole. */
  dictionary: readonly Buffer[];
  /** Inputs grow no larger than this. */
  maxSize: number;
  /** Edits land on these boundaries more often (512 for tar headers); 0 for text. */
  alignment: number;
}

type Mutator = (b: Buffer, rng: Rng, other: Buffer, o: MutateOptions) => Buffer;

const pos = (b: Buffer, rng: Rng, o: MutateOptions): number => {
  if (b.length === 0) return 0;
  // Half the time near a structure boundary (a header's fields are in its first bytes).
  if (o.alignment > 0 && rng.int(2) === 0) {
    const blocks = Math.max(1, Math.floor(b.length / o.alignment));
    return Math.min(b.length - 1, rng.int(blocks) * o.alignment + rng.int(Math.min(o.alignment, 350)));
  }
  return rng.int(b.length);
};

const MUTATORS: Mutator[] = [
  // Flip one bit.
  (b, rng, _o, o) => {
    if (b.length === 0) return b;
    const c = Buffer.from(b);
    const i = pos(c, rng, o);
    c[i]! ^= 1 << rng.int(8);
    return c;
  },
  // Set a byte to an interesting value.
  (b, rng, _o, o) => {
    if (b.length === 0) return Buffer.from([rng.pick(INTERESTING)]);
    const c = Buffer.from(b);
    c[pos(c, rng, o)] = rng.pick(INTERESTING);
    return c;
  },
  // Random byte.
  (b, rng, _o, o) => {
    if (b.length === 0) return b;
    const c = Buffer.from(b);
    c[pos(c, rng, o)] = rng.int(256);
    return c;
  },
  // Delete a range.
  (b, rng, _o, o) => {
    if (b.length < 2) return b;
    const i = pos(b, rng, o);
    const n = 1 + rng.int(Math.min(b.length - i, rng.int(2) ? 8 : 1024));
    return Buffer.concat([b.subarray(0, i), b.subarray(i + n)]);
  },
  // Duplicate a range in place (repeats lines, nesting, headers).
  (b, rng, _o, o) => {
    if (b.length === 0) return b;
    const i = pos(b, rng, o);
    const n = 1 + rng.int(Math.min(b.length - i, 600));
    const times = 1 + rng.int(rng.int(4) === 0 ? 200 : 3);
    return Buffer.concat([b.subarray(0, i + n), ...Array<Buffer>(times).fill(b.subarray(i, i + n)), b.subarray(i + n)]);
  },
  // Insert a dictionary token.
  (b, rng, _o, o) => {
    const i = b.length === 0 ? 0 : pos(b, rng, o);
    return Buffer.concat([b.subarray(0, i), rng.pick(o.dictionary), b.subarray(i)]);
  },
  // Overwrite with a dictionary token.
  (b, rng, _o, o) => {
    const t = rng.pick(o.dictionary);
    if (b.length < t.length) return Buffer.concat([b, t]);
    const c = Buffer.from(b);
    t.copy(c, Math.min(pos(c, rng, o), c.length - t.length));
    return c;
  },
  // Splice: the head of this input with the tail of another.
  (b, rng, other) => Buffer.concat([b.subarray(0, rng.int(b.length + 1)), other.subarray(rng.int(other.length + 1))]),
  // Truncate.
  (b, rng) => b.subarray(0, rng.int(b.length + 1)),
  // Overwrite an ASCII decimal/octal run with a huge or odd number.
  (b, rng, _o, o) => {
    const c = Buffer.from(b);
    const i = pos(c, rng, o);
    const n = Buffer.from(rng.pick(['99999999999', '77777777777', '-1', '9007199254740993', '0x10', '1e308', '00000000000', '18446744073709551616']));
    n.copy(c, Math.min(i, Math.max(0, c.length - n.length)));
    return c;
  },
];

/** `seed` with 1 to 8 stacked edits, drawing splices from `corpus`. */
export function mutate(seed: Buffer, corpus: readonly Buffer[], rng: Rng, o: MutateOptions): Buffer {
  let b = seed;
  const edits = 1 << rng.int(4);
  for (let i = 0; i < edits; i++) {
    b = rng.pick(MUTATORS)(b, rng, rng.pick(corpus), o);
    if (b.length > o.maxSize) b = b.subarray(0, o.maxSize);
  }
  return b;
}
