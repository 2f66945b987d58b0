// Sizes and durations as users write them for prune and the cache bound: sizes as docker's
// (512MB, 10GB, 1.5g, plain bytes; k/m/g/t are binary, as BuildKit's --keep-storage), durations as
// Go's (24h, 90m, 1h30m, 10s), as `--filter until=` takes them.
import { UsageError } from './errors.js';

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** Bytes in `s` (e.g. "10GB", "512m", "1000"); `what` names the setting in the error. */
export function parseSize(s: string, what: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?\s*$/i.exec(s);
  if (!m) throw new UsageError(`invalid size "${s}" for ${what}`, 'write a size such as 500MB, 10GB or a number of bytes');
  return Math.floor(Number(m[1]) * SIZE_UNITS[m[2]!.toLowerCase()]!);
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Milliseconds in a Go-style duration ("24h", "1h30m", "90s"). */
export function parseDuration(s: string, what: string): number {
  const parts = [...s.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  if (!s || parts.map((p) => p[0]).join('') !== s) throw new UsageError(`invalid duration "${s}" for ${what}`, 'write a duration such as 24h, 90m or 1h30m');
  return parts.reduce((ms, p) => ms + Number(p[1]) * DURATION_UNITS[p[2]!]!, 0);
}
