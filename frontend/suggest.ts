// "Did you mean …?" for mistyped instruction keywords, stage names and variables, as BuildKit's
// util/suggest: the closest candidate within an edit distance of 2.

/** The two DP rows, reused across calls (suggestions run for every undefined variable). */
let prev = new Int32Array(32);
let cur = new Int32Array(32);

const counts = new Int32Array(128);

/**
 * A lower bound of the distance: max(|a|, |b|) minus the characters they share (as multisets), for
 * ASCII strings; 0 otherwise. Most candidates fail it, which spares them the quadratic distance.
 */
function sharedCharsBound(a: string, b: string): number {
  let ascii = true;
  for (let i = 0; i < a.length; i++) {
    const c = a.charCodeAt(i);
    if (c > 127) ascii = false;
    else counts[c]!++;
  }
  for (let j = 0; j < b.length; j++) {
    const c = b.charCodeAt(j);
    if (c > 127) ascii = false;
    else counts[c]!--;
  }
  let onlyA = 0;
  let onlyB = 0;
  for (let i = 0; i < a.length; i++) {
    const c = a.charCodeAt(i);
    if (c <= 127 && counts[c]! > 0) onlyA += counts[c]!;
    if (c <= 127) counts[c] = 0;
  }
  for (let j = 0; j < b.length; j++) {
    const c = b.charCodeAt(j);
    if (c <= 127 && counts[c]! < 0) onlyB -= counts[c]!;
    if (c <= 127) counts[c] = 0;
  }
  return ascii ? Math.max(onlyA, onlyB) : 0;
}

/** Levenshtein distance, or `limit` as soon as it is known to be at least that. */
export function editDistance(a: string, b: string, limit: number): number {
  if (Math.abs(a.length - b.length) >= limit || sharedCharsBound(a, b) >= limit) return limit;
  if (prev.length <= b.length) {
    prev = new Int32Array(b.length + 1);
    cur = new Int32Array(b.length + 1);
  }
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    cur[0] = i;
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const d = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      cur[j] = d;
      if (d < rowMin) rowMin = d;
    }
    // Rows never get cheaper: once every entry reaches the limit, so does the distance.
    if (rowMin >= limit) return limit;
    const done = prev;
    prev = cur;
    cur = done;
  }
  return prev[b.length]!;
}

/** Suggestions are within this distance. */
export const SUGGEST_DISTANCE = 2;

/** The closest of `options` to `value` within SUGGEST_DISTANCE; none when `value` is itself an option. */
export function suggest(value: string, options: Iterable<string>): string | undefined {
  let best: string | undefined;
  let min = SUGGEST_DISTANCE + 1;
  for (const o of options) {
    if (o === value) return undefined;
    const d = editDistance(value, o, min);
    if (d < min) {
      best = o;
      min = d;
    }
  }
  return best;
}
