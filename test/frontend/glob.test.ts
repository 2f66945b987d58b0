// Pattern matching of ${a#p} ${a##p} ${a%p} ${a%%p} ${a/p/r} ${a//p/r}: the same results as the
// backtracking regexes tsbuild used before (kept here as the oracle), in steps linear in the value.
import test from 'ava';
import { Budget, replaceGlob, trimGlob } from '../../frontend/glob.js';
import { expandWord } from '../../frontend/shell.js';

// The regex translation the lexer used before frontend/glob.ts, as it was.
function globToRegex(pattern: string, greedy: boolean): string {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\' && i + 1 < pattern.length) re += escapeRe(pattern[++i]!);
    else if (c === '*') re += greedy ? '.*' : '.*?';
    else if (c === '?') re += '.';
    else if (c === '[') {
      const close = pattern.indexOf(']', i + 2);
      if (close < 0 || pattern[i + 1] === ']') re += '\\[';
      else {
        re += `[${pattern.slice(i + 1, close).replace(/^!/, '^').replace(/\\/g, '\\\\')}]`;
        i = close;
      }
    } else re += escapeRe(c);
  }
  return re;
}
const escapeRe = (c: string): string => c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/** Prefix trims as a regex; a suffix as every start position tried (slow, but obviously right). */
function oracleTrim(value: string, pattern: string, prefix: boolean, longest: boolean): string {
  if (prefix) {
    const m = new RegExp(`^(?:${globToRegex(pattern, longest)})`, 's').exec(value);
    return m ? value.slice(m[0].length) : value;
  }
  const whole = new RegExp(`^(?:${globToRegex(pattern, true)})$`, 's');
  const order = [...Array(value.length + 1).keys()];
  for (const s of longest ? order : order.reverse()) if (whole.test(value.slice(s))) return value.slice(0, s);
  return value;
}

/** The regex's matches replaced as Go's ReplaceAllString (BuildKit's) does: an empty match abutting the last match is not. */
function oracleReplace(value: string, pattern: string, replacement: string, all: boolean): string {
  const re = new RegExp(globToRegex(pattern, true), 'gs');
  let out = '';
  let lastEnd = 0;
  for (let search = 0; search <= value.length;) {
    re.lastIndex = search;
    const m = re.exec(value);
    if (!m) break;
    const end = m.index + m[0].length;
    out += value.slice(lastEnd, m.index);
    if (end > lastEnd || m.index === 0) out += replacement;
    lastEnd = end;
    if (!all) break;
    search = end > search ? end : search + 1;
  }
  return out + value.slice(lastEnd);
}

test('// skips an empty match right after a match, as Go\'s ReplaceAllString (BuildKit) does', (t) => {
  t.is(replaceGlob('abc', '*', 'x', true, () => {}), 'x');
  t.is(replaceGlob('abc', 'b*', 'x', true, () => {}), 'ax');
  t.is(replaceGlob('abc', '', '-', true, () => {}), '-a-b-c-');
  t.is(replaceGlob('', '*', 'x', true, () => {}), 'x');
});

/** A small deterministic PRNG (mulberry32): the same cases on every run. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('every form gives what the regexes gave, on random patterns and values', (t) => {
  const rnd = prng(12);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const pieces = ['a', 'b', '.', '/', '*', '*', '?', '[ab]', '[!a]', '[^b]', '[a-c]', '[-a]', '[a-]', '\\*', '\\?', '\\[', '[', ']', '[]', '[]a]', '\\', 'é'];
  const chars = ['a', 'b', 'c', '.', '/', '*', '?', '[', ']', '-', '\\', '\n', 'é'];
  let compared = 0;
  for (let i = 0; i < 6000; i++) {
    const pattern = Array.from({ length: Math.floor(rnd() * 6) }, () => pick(pieces)).join('');
    const value = Array.from({ length: Math.floor(rnd() * 12) }, () => pick(chars)).join('');
    for (const [prefix, longest] of [[true, false], [true, true], [false, false], [false, true]] as const) {
      t.is(trimGlob(value, pattern, prefix, longest), oracleTrim(value, pattern, prefix, longest), `${prefix ? '#' : '%'}${longest ? '(longest)' : ''} ${JSON.stringify(pattern)} on ${JSON.stringify(value)}`);
    }
    for (const all of [false, true]) {
      t.is(replaceGlob(value, pattern, '<>', all, () => {}), oracleReplace(value, pattern, '<>', all), `${all ? '//' : '/'} ${JSON.stringify(pattern)} on ${JSON.stringify(value)}`);
    }
    compared += 6;
  }
  t.is(compared, 36000);
});

test('a lone backslash ending a pattern is a literal backslash at either end (reversing the pattern made it escape the character before it)', (t) => {
  t.is(trimGlob('b\\x', 'b\\', true, false), 'x');
  t.is(trimGlob('xb\\', 'b\\', false, false), 'x');
  t.is(trimGlob('xb\\', '?\\', false, true), 'x');
});

test('each form on a 64 KB value takes steps linear in its length (a backtracking search took about n²/2)', (t) => {
  const n = 64 * 1024;
  const value = 'y'.repeat(n - 6) + '.tar.gz';
  const forms: Array<[string, (b: Budget) => string, string]> = [
    ['${a#*x}', (b) => trimGlob(value, '*x', true, false, b), value],
    ['${a##*x}', (b) => trimGlob(value, '*x', true, true, b), value],
    ['${a##*.}', (b) => trimGlob(value, '*.', true, true, b), 'gz'],
    ['${a%x*}', (b) => trimGlob(value, 'x*', false, false, b), value],
    ['${a%%x*}', (b) => trimGlob(value, 'x*', false, true, b), value],
    ['${a%%.*}', (b) => trimGlob(value, '.*', false, true, b), 'y'.repeat(n - 6)],
    ['${a/*x/z}', (b) => replaceGlob(value, '*x', 'z', false, () => {}, b), value],
    ['${a//*x/z}', (b) => replaceGlob(value, '*x', 'z', true, () => {}, b), value],
    ['${a/?*y?/z}', (b) => replaceGlob(value, '?*y?', 'z', false, () => {}, b), 'ztar.gz'],
    ['${a//y/z}', (b) => replaceGlob(value, 'y', 'z', true, () => {}, b), `${'z'.repeat(n - 6)}.tar.gz`],
    ['${a//[xy]*[!y]?x/z}', (b) => replaceGlob(value, '[xy]*[!y]?x', 'z', true, () => {}, b), value],
  ];
  for (const [form, run, want] of forms) {
    const budget = new Budget();
    t.is(run(budget), want, form);
    // A few states alive per character, each pass over the value at most twice.
    t.true(budget.steps <= 10 * n, `${form}: ${budget.steps} steps for ${n} characters`);
  }
});

test('through the lexer: a 64 KB value with each form, and a pattern too costly to match is a user error', (t) => {
  const long = 'y'.repeat(64 * 1024);
  const env = { get: (k: string) => (k === 'a' ? long : k === 'p' ? `${'?'.repeat(2000)}x` : undefined) };
  for (const word of ['${a#*x}', '${a##*x}', '${a%x*}', '${a%%x*}', '${a/*x/z}', '${a//*x/z}']) t.is(expandWord(word, env).value, long, word);
  // 2,000 states alive at each of 64 K characters is about 130 million steps: refused rather than run for seconds.
  const e = t.throws(() => expandWord('${a/$p/z}', env));
  t.regex(e!.message, /takes more than \d+ steps to match/);
  t.is((e as { code?: string }).code, 'TSB_DOCKERFILE_INVALID');
});
