// Shell patterns of ${a#p} ${a##p} ${a%p} ${a%%p} ${a/p/r} ${a//p/r}: `*`, `?`, `[...]` classes and
// `\x` escapes, matched by simulating the pattern's automaton over the value (every state at once),
// so that the time is the value's length times the states alive, never a backtracking regex's
// quadratic (or worse) search: `${a/*x/z}` on a 64 KB value took 5 s that way.
//
// The results are those of the leftmost-first regex BuildKit builds (Go's regexp): a prefix or
// suffix match is the shortest (`#`, `%`) or longest (`##`, `%%`) that matches; a replacement
// replaces the leftmost match, and from there the longest (a pattern's `*` matches anything, so
// the first match in a greedy regex's priority order is the longest). `//` goes on after each
// match as Go's ReplaceAllString does (an empty match abutting the previous one is skipped).
import { DockerfileError } from './errors.js';

/**
 * One element of a pattern: `*`, or one character: a literal (`literal` >= 0) or any other test
 * (`?`, a class), by code point.
 */
interface Element {
  star: boolean;
  literal: number;
  test: (c: number) => boolean;
}

const STAR: Element = { star: true, literal: -1, test: () => true };
const ANY: Element = { star: false, literal: -1, test: () => true };

/**
 * Steps taken (states advanced over one character), and how many one expansion may take: far past
 * any real pattern on any real value (a 64 KB value and a short pattern take a few hundred
 * thousand), so that a hostile one is a located error instead of minutes of work.
 */
export class Budget {
  steps = 0;
  constructor(readonly limit = 1 << 26) {}

  spend(n: number): void {
    this.steps += n;
    if (this.steps > this.limit) throw new DockerfileError('TSB_DOCKERFILE_INVALID', `a pattern in a substitution takes more than ${this.limit} steps to match`, { hint: 'use a shorter pattern or value in ${NAME#…}, ${NAME%…} or ${NAME/…/…}' });
  }
}

/** The code points of `s`, and where the i-th starts in `s` (at(cps.length) is s.length). */
function codePoints(s: string): { cps: Int32Array; at: (i: number) => number } {
  if (!/[\ud800-\udfff]/.test(s)) {
    // No surrogates (the usual case): one code unit per code point.
    const cps = new Int32Array(s.length);
    for (let i = 0; i < s.length; i++) cps[i] = s.charCodeAt(i);
    return { cps, at: (i) => i };
  }
  const cps: number[] = [];
  const offsets: number[] = [];
  for (let i = 0; i < s.length; ) {
    const c = s.codePointAt(i)!;
    cps.push(c);
    offsets.push(i);
    i += c > 0xffff ? 2 : 1;
  }
  offsets.push(s.length);
  return { cps: Int32Array.from(cps), at: (i) => offsets[i]! };
}

/** A bracket class's members as JavaScript's regex classes read them: a leading ! or ^ negates; a-z ranges. */
function classTest(body: number[]): (c: number) => boolean {
  let i = 0;
  const negate = body[0] === 0x21 || body[0] === 0x5e;
  if (negate) i++;
  const ranges: Array<[number, number]> = [];
  while (i < body.length) {
    const lo = body[i]!;
    if (body[i + 1] === 0x2d && i + 2 < body.length) {
      const hi = body[i + 2]!;
      if (hi < lo) throw new DockerfileError('TSB_DOCKERFILE_INVALID', `range out of order in the pattern class [${String.fromCodePoint(...body)}]`, { hint: 'write ranges low to high, e.g. [a-z]' });
      ranges.push([lo, hi]);
      i += 3;
    } else {
      ranges.push([lo, lo]);
      i++;
    }
  }
  return (c) => ranges.some(([lo, hi]) => c >= lo && c <= hi) !== negate;
}

/** The pattern's elements: stars, and one-character tests. */
function compile(pattern: string): Element[] {
  const els: Element[] = [];
  const literal = (ch: number): Element => ({ star: false, literal: ch, test: (c) => c === ch });
  const cps = Array.from(codePoints(pattern).cps);
  for (let i = 0; i < cps.length; i++) {
    const c = cps[i]!;
    if (c === 0x5c && i + 1 < cps.length) els.push(literal(cps[++i]!));
    else if (c === 0x2a) {
      if (!els.at(-1)?.star) els.push(STAR); // ** is *
    } else if (c === 0x3f) els.push(ANY);
    else if (c === 0x5b) {
      // A class needs at least one member: `[]` is literal, as in BuildKit; so is an unclosed one.
      const close = cps.indexOf(0x5d, i + 2);
      if (close < 0 || cps[i + 1] === 0x5d) els.push(literal(c));
      else {
        els.push({ star: false, literal: -1, test: classTest(cps.slice(i + 1, close)) });
        i = close;
      }
    } else els.push(literal(c));
  }
  return els;
}

/** The pattern as a plain string, when it has no `*`, `?` or class (then a string search does). */
function literalOf(els: readonly Element[]): string | undefined {
  if (els.length === 0 || els.some((e) => e.literal < 0)) return undefined;
  return String.fromCodePoint(...els.map((e) => e.literal));
}

/**
 * A set of automaton states (element indexes; els.length is the match), each at most once, with
 * the position its match started at. States are added in order of their starts, so the one a
 * state keeps is its earliest: the leftmost match's. Two pairs of buffers, swapped at each step.
 */
class States {
  size = 0;
  /** Where the match that reached the end of the pattern started, or -1. */
  accepted = -1;
  private list: Int32Array;
  private starts: Int32Array;
  private nextList: Int32Array;
  private nextStarts: Int32Array;
  private readonly seen: Uint32Array;
  private gen = 1;

  constructor(private readonly els: readonly Element[]) {
    const n = els.length + 1;
    this.list = new Int32Array(n);
    this.starts = new Int32Array(n);
    this.nextList = new Int32Array(n);
    this.nextStarts = new Int32Array(n);
    this.seen = new Uint32Array(n);
  }

  /** Empties the set, to start another search. */
  clear(): void {
    this.size = 0;
    this.accepted = -1;
    this.gen++;
  }

  /** State s and those a star reaches without a character (a star may match nothing). */
  add(s: number, start: number): void {
    const { els, seen, gen } = this;
    for (;;) {
      if (seen[s] === gen) return;
      seen[s] = gen;
      this.list[this.size] = s;
      this.starts[this.size++] = start;
      if (s === els.length) {
        this.accepted = start;
        return;
      }
      if (!els[s]!.star) return;
      s++;
    }
  }

  /** The states after character c, but those of matches starting after `latest`. */
  step(c: number, budget: Budget, latest = Infinity): void {
    const { els } = this;
    const [list, starts, n] = [this.list, this.starts, this.size];
    budget.spend(n);
    [this.list, this.nextList] = [this.nextList, list];
    [this.starts, this.nextStarts] = [this.nextStarts, starts];
    this.clear();
    for (let i = 0; i < n; i++) {
      const s = list[i]!;
      const start = starts[i]!;
      if (s === els.length || start > latest) continue;
      const e = els[s]!;
      if (e.star) this.add(s, start);
      else if (e.literal >= 0 ? e.literal === c : e.test(c)) this.add(s + 1, start);
    }
  }
}

/** The end of the shortest or longest match of els starting at cps[0], or -1. */
function matchStart(els: readonly Element[], cps: Int32Array, longest: boolean, budget: Budget): number {
  const states = new States(els);
  states.add(0, 0);
  let end = states.accepted >= 0 ? 0 : -1;
  for (let j = 0; j < cps.length && states.size > 0 && (longest || end < 0); j++) {
    states.step(cps[j]!, budget);
    if (states.accepted >= 0) end = j + 1;
  }
  return end;
}

/**
 * The leftmost match at or after cps[from], and the longest from its start: one pass, a match
 * begun at every position until one is found, then only those begun no later, until none is left.
 */
function leftmostLongest(states: States, cps: Int32Array, from: number, budget: Budget): { start: number; end: number } | undefined {
  states.clear();
  let best: { start: number; end: number } | undefined;
  for (let j = from; ; j++) {
    if (!best) states.add(0, j);
    const start = states.accepted;
    if (start >= 0 && (!best || start <= best.start)) best = { start, end: j };
    if (j === cps.length || states.size === 0) return best;
    states.step(cps[j]!, budget, best?.start);
  }
}

/**
 * `${a#p}` and `${a##p}` (prefix) or `${a%p}` and `${a%%p}` (suffix): the value without the
 * shortest or longest part the pattern matches at that end; the value itself if none does.
 */
export function trimGlob(value: string, pattern: string, prefix: boolean, longest: boolean, budget = new Budget()): string {
  const els = compile(pattern);
  const literal = literalOf(els);
  if (literal !== undefined) {
    if (prefix) return value.startsWith(literal) ? value.slice(literal.length) : value;
    return value.endsWith(literal) ? value.slice(0, value.length - literal.length) : value;
  }
  const { cps, at } = codePoints(value);
  if (prefix) {
    const end = matchStart(els, cps, longest, budget);
    return end < 0 ? value : value.slice(at(end));
  }
  // A suffix is a prefix of the reversed value, matched by the reversed pattern.
  const n = cps.length;
  const end = matchStart(els.reverse(), cps.reverse(), longest, budget);
  return end < 0 ? value : value.slice(0, at(n - end));
}

/**
 * `${a/p/r}` (the first match) and `${a//p/r}` (every match): the leftmost match, the longest from
 * there, replaced; `onReplace` is called for each replacement (to bound what they add).
 */
export function replaceGlob(value: string, pattern: string, replacement: string, all: boolean, onReplace: () => void, budget = new Budget()): string {
  const els = compile(pattern);
  const literal = literalOf(els);
  let out = '';
  if (literal !== undefined) {
    let pos = 0;
    for (let i = value.indexOf(literal); i >= 0; i = all ? value.indexOf(literal, pos) : -1) {
      onReplace();
      out += value.slice(pos, i) + replacement;
      pos = i + literal.length;
    }
    return out + value.slice(pos);
  }
  const { cps, at } = codePoints(value);
  const n = cps.length;
  const states = new States(els);
  // Go's Regexp.ReplaceAllString, as BuildKit calls it: an empty match right after another match is
  // not replaced (`${a//*/x}` on "abc" is "x", where JavaScript's replace gives "xx"), and the search
  // always moves on by at least one character.
  let lastEnd = 0;
  let search = 0;
  while (search <= n) {
    const m = leftmostLongest(states, cps, search, budget);
    if (!m) break;
    out += value.slice(at(lastEnd), at(m.start));
    if (m.end > lastEnd || m.start === 0) {
      onReplace();
      out += replacement;
    }
    lastEnd = m.end;
    if (!all) break;
    search = m.end > search ? m.end : search + 1;
  }
  return out + value.slice(at(lastEnd));
}
