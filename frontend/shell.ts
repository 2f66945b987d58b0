// Word expansion as BuildKit's shell lexer does it: quotes, escapes, $VAR and ${VAR...} with the
// -, +, ?, #, %, / modifiers. RUN/CMD/ENTRYPOINT are not expanded here (the shell does that);
// every other instruction's words are. Imports nothing but its own types, errors and pattern matching.
import { DockerfileError } from './errors.js';
import { replaceGlob, trimGlob } from './glob.js';

/** What words expand against: a Map, or a stage's ARG/ENV scope. */
export interface Env {
  get(name: string): string | undefined;
}

/** A malformed substitution; the dispatch walk locates it at its instruction. */
export class ExpansionError extends DockerfileError {
  constructor(message: string) {
    super('TSB_DOCKERFILE_INVALID', message, { hint: 'variables are $NAME or ${NAME}, with the modifiers :- - :+ + :? ? # ## % %% / //' });
  }
}

export interface ExpandResult {
  value: string;
  /** Variable names referenced and set. */
  matched: ReadonlySet<string>;
  /** Variable names referenced but unset (for the UndefinedVar check). */
  unmatched: ReadonlySet<string>;
}

/** What most words reference: nothing. Shared, so that they allocate no sets. */
const NONE: ReadonlySet<string> = new Set();

/**
 * How deep ${...} may nest. Each level is a few stack frames of this recursive lexer; far past any real
 * Dockerfile, and well inside Node's stack, so a hostile 64 KB line is a located error, not a crash.
 */
export const MAX_NESTING = 500;

/**
 * How much text one expansion may produce. Each ENV can double a value (ENV a=$a$a), so a short
 * Dockerfile could otherwise ask for more than memory (the fuzzer found one that hit V8's string
 * limit). A MiB is far past any real value and keeps a hostile one a located error.
 */
export const MAX_EXPANDED = 1 << 20;

const specialParams = new Set(['@', '*', '#', '?', '-', '$', '!', '0']);

/**
 * Runs of ordinary characters, found by one native scan rather than a loop over characters: what
 * is not $ or the escape (heredoc text), nor a quote either (a word), nor whitespace (a word list),
 * nor a " (inside double quotes). By mode and escape character.
 */
const runs = new Map<string, RegExp>();

function runRe(mode: 'raw' | 'word' | 'words' | 'quoted', escape: string): RegExp {
  const key = mode + escape;
  let re = runs.get(key);
  if (!re) {
    const e = escape === '\\' ? '\\\\' : escape;
    const special = { raw: `$${e}`, word: `$'"${e}`, words: `$'"${e}\\s`, quoted: `"$${e}` }[mode];
    re = new RegExp(`[^${special}]+`, 'y');
    runs.set(key, re);
  }
  return re;
}

/** JavaScript's \s, ASCII first (the common case, and far cheaper than a regex per character). */
function isSpace(c: string): boolean {
  return c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\v' || c === '\f' || (c > '\x7f' && /\s/.test(c));
}

/** A letter, digit or _ (any script's, as BuildKit's lexer takes them); ASCII first, it is what names are. */
function isNameChar(c: string): boolean {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c === '_' || (c > '\x7f' && /[\p{L}\p{N}]/u.test(c));
}

class Lexer {
  private i = 0;
  /** ${...} levels open at this point (see MAX_NESTING). */
  private depth = 0;
  matched: Set<string> | undefined;
  unmatched: Set<string> | undefined;
  /** Words for processWords; null while in single-word mode. */
  private words: string[] | null = null;
  private cur = '';
  private inWord = false;
  /** Characters output so far, in all words (see MAX_EXPANDED). */
  private produced = 0;

  /** @param raw heredoc mode: quotes and escapes are ordinary text; only $ substitutions happen. */
  constructor(private readonly s: string, private readonly env: Env, private readonly escape: string, private readonly raw = false) {}

  private peek(): string | undefined {
    return this.s[this.i];
  }

  private next(): string | undefined {
    return this.s[this.i++];
  }

  /** Counts `n` more characters of output against MAX_EXPANDED. */
  private grow(n: number): void {
    this.produced += n;
    if (this.produced > MAX_EXPANDED) throw new ExpansionError(`the expanded text is longer than ${MAX_EXPANDED} characters`);
  }

  private raw_(t: string): void {
    this.grow(t.length);
    this.cur += t;
  }

  /** Appends raw text (from quotes or escapes): never splits. */
  private rawText(t: string): void {
    this.grow(t.length);
    this.cur += t;
    this.inWord = true;
  }

  /** Appends text from an unquoted expansion: splits on whitespace in words mode. */
  private expanded(t: string): void {
    this.grow(t.length);
    if (!this.words) {
      this.cur += t;
      return;
    }
    for (const c of t) {
      if (isSpace(c)) {
        this.endWord();
      } else {
        this.cur += c;
        this.inWord = true;
      }
    }
  }

  private endWord(): void {
    if (this.words && this.inWord) this.words.push(this.cur);
    this.cur = '';
    this.inWord = false;
  }

  word(): string {
    this.run();
    return this.cur;
  }

  wordList(): string[] {
    this.words = [];
    this.run();
    this.endWord();
    return this.words;
  }

  /** The end of the run of ordinary characters from `i`: text taken as it is, in bulk. */
  private plainRun(from: number): number {
    const re = runRe(this.raw ? 'raw' : this.words ? 'words' : 'word', this.escape);
    re.lastIndex = from;
    return re.test(this.s) ? re.lastIndex : from;
  }

  private run(): void {
    while (this.i < this.s.length) {
      const c = this.peek()!;
      const end = this.plainRun(this.i);
      if (end > this.i) {
        const text = this.s.slice(this.i, end);
        this.i = end;
        if (this.raw) this.raw_(text);
        else this.rawText(text);
      } else if (this.raw && c === this.escape) {
        // Kept as written, with the character it protects (so \$ stays unexpanded).
        this.next();
        const n = this.next();
        this.raw_(n === undefined ? c : c + n);
      } else if (this.words && isSpace(c)) {
        this.next();
        this.endWord();
      } else if (c === "'") {
        this.next();
        this.rawText(this.singleQuoted());
      } else if (c === '"') {
        this.next();
        this.rawText(this.doubleQuoted());
      } else if (c === '$') {
        this.expanded(this.dollar());
      } else {
        // the escape character
        this.next();
        const n = this.next();
        if (n !== undefined) this.rawText(n); // escape at end of word is dropped
      }
    }
  }

  private singleQuoted(): string {
    const close = this.s.indexOf("'", this.i);
    if (close < 0) throw new ExpansionError('unexpected end of statement while looking for matching single-quote');
    const out = this.s.slice(this.i, close);
    this.i = close + 1;
    return out;
  }

  private doubleQuoted(): string {
    let out = '';
    for (;;) {
      const c = this.peek();
      if (c === undefined) throw new ExpansionError('unexpected end of statement while looking for matching double-quote');
      if (c === '"') {
        this.next();
        return out;
      }
      if (c === '$') {
        out += this.dollar();
        continue;
      }
      if (c !== this.escape) {
        // Ordinary characters up to the next quote, $ or escape, in bulk.
        const re = runRe('quoted', this.escape);
        re.lastIndex = this.i;
        re.test(this.s);
        out += this.s.slice(this.i, re.lastIndex);
        this.i = re.lastIndex;
        continue;
      }
      // The escape character protects only ", $ and itself here; otherwise it is kept.
      this.next();
      const n = this.peek();
      if (n === undefined) continue;
      if (n === '"' || n === '$' || n === this.escape) {
        out += this.next();
        continue;
      }
      out += c;
    }
  }

  private name(): string {
    let name = '';
    const first = this.peek();
    if (first !== undefined && first >= '0' && first <= '9') {
      while (this.peek() !== undefined && /[0-9]/.test(this.peek()!)) name += this.next();
      return name;
    }
    if (first !== undefined && specialParams.has(first)) return this.next()!;
    const start = this.i;
    while (this.i < this.s.length && isNameChar(this.s[this.i]!)) this.i++;
    return this.s.slice(start, this.i);
  }

  private lookup(name: string): string | undefined {
    const v = this.env.get(name);
    if (v === undefined) (this.unmatched ??= new Set()).add(name);
    else (this.matched ??= new Set()).add(name);
    return v;
  }

  private dollar(): string {
    this.next(); // $
    if (this.peek() !== '{') {
      const name = this.name();
      if (!name) return '$';
      return this.lookup(name) ?? '';
    }
    this.next(); // {
    if (++this.depth > MAX_NESTING) throw new ExpansionError(`substitutions nested more than ${MAX_NESTING} deep`);
    try {
      return this.braced();
    } finally {
      this.depth--;
    }
  }

  /** `${NAME...}` after the brace. */
  private braced(): string {
    const name = this.name();
    if (!name) throw new ExpansionError('bad substitution: ${} needs a variable name');
    const c = this.next();
    if (c === '}') return this.lookup(name) ?? '';
    if (c === undefined) throw new ExpansionError(`missing '}' in \${${name}`);
    const value = this.lookup(name);
    if (c === ':') {
      const op = this.next();
      const word = this.untilBrace();
      if (op === '-') return value ? value : word;
      if (op === '+') return value ? word : '';
      if (op === '?') {
        if (!value) throw new ExpansionError(`${name}: ${word || 'is not allowed to be unset'}`);
        return value;
      }
      throw new ExpansionError(`unsupported modifier (:${op ?? ''}) in substitution`);
    }
    if (c === '-' || c === '+' || c === '?') {
      const word = this.untilBrace();
      if (c === '-') return value ?? word;
      if (c === '+') return value !== undefined ? word : '';
      if (value === undefined) throw new ExpansionError(`${name}: ${word || 'is not allowed to be unset'}`);
      return value;
    }
    if (c === '#' || c === '%') {
      const longest = this.peek() === c;
      if (longest) this.next();
      const pattern = this.untilBrace(true);
      return trimGlob(value ?? '', pattern, c === '#', longest);
    }
    if (c === '/') {
      const all = this.peek() === '/';
      if (all) this.next();
      const pattern = this.untilChar('/', true);
      const replacement = this.untilBrace(true);
      return replacePattern(value ?? '', pattern, replacement, all);
    }
    throw new ExpansionError(`unsupported modifier (${c}) in substitution`);
  }

  /** The word inside ${...} up to the closing brace, itself expanded. */
  private untilBrace(keepEscapes = false): string {
    return this.untilChar('}', keepEscapes, true);
  }

  private untilChar(end: string, keepEscapes: boolean, final = false): string {
    let out = '';
    for (;;) {
      const c = this.peek();
      if (c === undefined) throw new ExpansionError(`missing '${final ? '}' : end}' in substitution`);
      if (c === end) {
        this.next();
        return out;
      }
      if (c === '$') out += this.dollar();
      else if (c === "'" ) {
        this.next();
        out += this.singleQuoted();
      } else if (c === '"') {
        this.next();
        out += this.doubleQuoted();
      } else if (c === this.escape) {
        this.next();
        const n = this.next();
        if (n !== undefined) out += keepEscapes ? `\\${n}` : n;
      } else out += this.next();
    }
  }
}

function replacePattern(value: string, pattern: string, replacement: string, all: boolean): string {
  // Replacing every character of a long value with a long text multiplies them: bound it as the lexer does.
  let added = 0;
  return replaceGlob(value, pattern, replacement, all, () => {
    added += replacement.length;
    if (value.length + added > MAX_EXPANDED) throw new ExpansionError(`the expanded text is longer than ${MAX_EXPANDED} characters`);
  });
}

/** Whether `s` has nothing to expand: no $, no quotes, no escapes (then every form leaves it as it is). */
function plain(s: string, escape: string): boolean {
  return !s.includes('$') && !s.includes("'") && !s.includes('"') && !s.includes(escape);
}

/** Expands one word (quote removal included). */
export function expandWord(word: string, env: Env, escape = '\\'): ExpandResult {
  if (plain(word, escape)) return { value: word, matched: NONE, unmatched: NONE };
  const lx = new Lexer(word, env, escape);
  return { value: lx.word(), matched: lx.matched ?? NONE, unmatched: lx.unmatched ?? NONE };
}

/** A heredoc body with expansion on: $ substitutions only, quotes and escapes kept as written. */
export function expandHeredoc(text: string, env: Env, escape = '\\'): ExpandResult {
  if (plain(text, escape)) return { value: text, matched: NONE, unmatched: NONE };
  const lx = new Lexer(text, env, escape, true);
  return { value: lx.word(), matched: lx.matched ?? NONE, unmatched: lx.unmatched ?? NONE };
}

/** Expands and splits into words on unquoted whitespace. */
export function expandWords(text: string, env: Env, escape = '\\'): { words: string[]; unmatched: ReadonlySet<string> } {
  if (plain(text, escape)) return { words: text.split(/\s+/).filter(Boolean), unmatched: NONE };
  const lx = new Lexer(text, env, escape);
  return { words: lx.wordList(), unmatched: lx.unmatched ?? NONE };
}
