// "Did you mean …?" for mistyped instruction keywords, stage names and variables, as BuildKit's
// util/suggest: the closest candidate within an edit distance of 2.

/** Levenshtein distance, or `limit` as soon as it is known to be at least that. */
export function editDistance(a: string, b: string, limit: number): number {
  if (Math.abs(a.length - b.length) >= limit) return limit;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (cur[j]! < rowMin) rowMin = cur[j]!;
    }
    // Rows never get cheaper: once every entry reaches the limit, so does the distance.
    if (rowMin >= limit) return limit;
    prev = cur;
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
