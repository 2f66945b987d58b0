// Byte sizes as docker spells them (--shm-size, RUN --mount=type=tmpfs,size=): a number of bytes, or
// with a binary k/m/g/t suffix and an optional "b"/"ib" (64m, 1.5g, 512kb).
const UNITS = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 } as const;

/** Bytes, or undefined if `v` is not a size. */
export function parseByteSize(v: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?$/i.exec(v.trim());
  if (!m) return undefined;
  return Math.round(Number(m[1]) * UNITS[m[2]!.toLowerCase() as keyof typeof UNITS]);
}
