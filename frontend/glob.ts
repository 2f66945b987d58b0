// Shell patterns of ${a#p} ${a##p} ${a%p} ${a%%p} ${a/p/r} ${a//p/r}: `*`, `?`, `[...]` classes and
// `\x` escapes, matched by simulating the pattern's automaton over the value (every state at once),
// so that the time is the value's length times the states alive, never a backtracking regex's
// quadratic (or worse) search: `${a/*x/z}` on a 64 KB value took 5 s that way.
//
// The results are those of the leftmost-first regex BuildKit builds (Go's regexp): a prefix or
// suffix match is the shortest (`#`, `%`) or longest (`##`, `%%`) that matches; a replacement
// replaces the leftmost match, and from there the longest (a pattern's `*` matches anything, so
// the first match in a greedy regex's priority order is the longest). `//` goes on after each
// match, and after an empty one, a character further, as JavaScript's String.replace does.
import { DockerfileError } from './errors.js';

type Element = { star: true } | { star: false; test: (c: number) => boolean; literal?: number };

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

/** The code points of `s`, and where each starts in `s` (with s.length at the end). */
function codePoints(s: string): { cps: number[]; offsets: number[] } {
  const cps: number[] = [];
  const offsets: number[] = [];
  for (let i = 0; i < s.length; ) {
    const c = s.codePointAt(i)!;
    cps.push(c);
    offsets.push(i);
    i += c > 0xffff ? 2 : 1;
  }
  offsets.push(s.length);
  return { cps, offsets };
}

/** A bracket class's members as JavaScript's regex classes read them: a leading ! or ^ negates; a-z ranges. */
function classTest(body: string): (c: number) => boolean {
  const { cps } = codePoints(body);
  let i = 0;
  const negate = cps[0] === 0x21 || cps[0] === 0x5e;
  if (negate) i++;
  const ranges: Array<[number, number]> = [];
  while (i < cps.length) {
    const lo = cps[i]!;
    if (cps[i + 1] === 0x2d && i + 2 < cps.length) {
      const hi = cps[i + 2]!;
      if (hi < lo) throw new DockerfileError('TSB_DOCKERFILE_INVALID', `range out of order in the pattern class [${body}]`, { hint: 'write ranges low to high, e.g. [a-z]' });
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
  const literal = (ch: number): Element => ({ star: false, test: (c) => c === ch, literal: ch });
  const { cps } = codePoints(pattern);
  for (let i = 0; i < cps.length; i++) {
    const c = cps[i]!;
    if (c === 0x5c && i + 1 < cps.length) els.push(literal(cps[++i]!));
    else if (c === 0x2a) {
      if (!els.at(-1)?.star) els.push({ star: true }); // ** is *
    } else if (c === 0x3f) els.push({ star: false, test: () => true });
    else if (c === 0x5b) {
      // A class needs at least one member: `[]` is literal, as in BuildKit; so is an unclosed one.
      const close = cps.indexOf(0x5d, i + 2);
      if (close < 0 || cps[i + 1] === 0x5d) els.push(literal(c));
      else {
        els.push({ star: false, test: classTest(String.fromCodePoint(...cps.slice(i + 1, close))) });
        i = close;
      }
    } else els.push(literal(c));
  }
  return els;
}

/** The pattern as a plain string, when it has no `*`, `?` or class (then a string search does). */
function literalOf(els: readonly Element[]): string | undefined {
  const cps: number[] = [];
  for (const e of els) {
    if (e.star || e.literal === undefined) return undefined;
    cps.push(e.literal);
  }
  return cps.length ? String.fromCodePoint(...cps) : undefined;
}

/**
 * A set of automaton states (element indexes; els.length is the match), each at most once, with
 * the position its match started at. States are added in order of their starts, so the one a
 * state keeps is its earliest: the leftmost match's.
 */
class States {
  list: number[] = [];
  starts: number[] = [];
  /** Where the match that reached the end of the pattern started, if one did. */
  accepted: number | undefined;
  private readonly seen: Uint32Array;
  private gen = 1;

  constructor(private readonly els: readonly Element[]) {
    this.seen = new Uint32Array(els.length + 1);
  }

  /** State s and those a star reaches without a character (a star may match nothing). */
  add(s: number, start: number): void {
    for (;;) {
      if (this.seen[s] === this.gen) return;
      this.seen[s] = this.gen;
      this.list.push(s);
      this.starts.push(start);
      if (s === this.els.length) this.accepted = start;
      if (s === this.els.length || !this.els[s]!.star) return;
      s++;
    }
  }

  /** The states after character c, but those of matches starting after `latest`. */
  step(c: number, budget: Budget, latest = Infinity): void {
    const { list, starts } = this;
    budget.spend(list.length);
    this.list = [];
    this.starts = [];
    this.accepted = undefined;
    this.gen++;
    for (const [i, s] of list.entries()) {
      const start = starts[i]!;
      if (s === this.els.length || start > latest) continue;
      const e = this.els[s]!;
      if (e.star) this.add(s, start);
      else if (e.test(c)) this.add(s + 1, start);
    }
  }
}

/** The end of the shortest or longest match of els starting at cps[0], if any. */
function matchStart(els: readonly Element[], cps: readonly number[], longest: boolean, budget: Budget): number | undefined {
  const states = new States(els);
  states.add(0, 0);
  let end = states.accepted !== undefined ? 0 : undefined;
  for (let j = 0; j < cps.length && states.list.length && (longest || end === undefined); j++) {
    states.step(cps[j]!, budget);
    if (states.accepted !== undefined) end = j + 1;
  }
  return end;
}

/**
 * The leftmost match at or after cps[from], and the longest from its start: one pass, a match
 * begun at every position until one is found, then only those begun no later, until none is left.
 */
function leftmostLongest(els: readonly Element[], cps: readonly number[], from: number, budget: Budget): { start: number; end: number } | undefined {
  const states = new States(els);
  let best: { start: number; end: number } | undefined;
  for (let j = from; ; j++) {
    if (!best) states.add(0, j);
    const start = states.accepted;
    if (start !== undefined && (!best || start <= best.start)) best = { start, end: j };
    if (j === cps.length || !states.list.length) return best;
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
  const { cps, offsets } = codePoints(value);
  if (prefix) {
    const end = matchStart(els, cps, longest, budget);
    return end === undefined ? value : value.slice(offsets[end]);
  }
  // A suffix is a prefix of the reversed value, matched by the reversed pattern.
  const n = cps.length;
  const end = matchStart(els.reverse(), cps.reverse(), longest, budget);
  return end === undefined ? value : value.slice(0, offsets[n - end]);
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
    for (let at = value.indexOf(literal); at >= 0; at = all ? value.indexOf(literal, pos) : -1) {
      onReplace();
      out += value.slice(pos, at) + replacement;
      pos = at + literal.length;
    }
    return out + value.slice(pos);
  }
  const { cps, offsets } = codePoints(value);
  const n = cps.length;
  let pos = 0;
  while (pos <= n) {
    const m = leftmostLongest(els, cps, pos, budget);
    if (!m) break;
    onReplace();
    out += value.slice(offsets[pos], offsets[m.start]) + replacement;
    pos = m.end;
    if (!all) break;
    if (m.end === m.start) {
      // An empty match: keep the next character and look on from after it.
      if (m.start < n) out += value.slice(offsets[m.start], offsets[m.start + 1]);
      pos = m.start + 1;
    }
  }
  return pos > n ? out : out + value.slice(offsets[pos]);
}
