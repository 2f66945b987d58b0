// The Dockerfile line parser: text → directives and instruction nodes with source positions.
// Owns escape handling, continuations, comments, JSON-form detection, flags and heredoc bodies.
// Imports nothing but its own types and errors, as BuildKit's parser package does.
import { DockerfileError } from './errors.js';

export interface Heredoc {
  name: string;
  /** The body, with <<- tab stripping applied. */
  content: string;
  /** Quoted delimiter: the body is taken literally (no expansion). */
  expand: boolean;
  chomp: boolean;
}

export interface Node {
  /** Upper-cased instruction keyword. */
  instruction: string;
  /** The keyword as written (for casing checks). */
  keyword: string;
  /** `--name=value` flags from the start of the arguments, as written. */
  flags: string[];
  /** The argument text after the flags (continuations joined, heredoc bodies removed). */
  rest: string;
  /** Present when `rest` is a JSON array of strings (exec form). */
  json?: string[];
  heredocs: Heredoc[];
  startLine: number;
  endLine: number;
}

export interface Directives {
  syntax?: string;
  escape: string;
  check?: string;
  /** The line of `# check=`, to point at it when it is malformed. */
  checkLine?: number;
}

export interface ParseResult {
  directives: Directives;
  nodes: Node[];
  warnings: Array<{ rule: string; message: string; line: number }>;
}

const directiveRe = /^#[ \t]*([a-zA-Z][a-zA-Z0-9]*)[ \t]*=[ \t]*(.+?)[ \t]*$/;
// Per-line patterns, made once rather than at every line.
const commentRe = /^[ \t]*#/;
const blankRe = /^[ \t]*$/;
const leadingSpaceRe = /^[ \t]+/;
const trailingSpaceRe = /[ \t]+$/;
const instructionRe = /^[ \t]*(\S+)(?:[ \t]+([\s\S]*))?$/;
const heredocInstructions = new Set(['RUN', 'COPY', 'ADD']);
const jsonInstructions = new Set(['RUN', 'CMD', 'ENTRYPOINT', 'SHELL', 'COPY', 'ADD', 'VOLUME', 'HEALTHCHECK', 'ONBUILD']);
const MAX_LINE = 65535;

/** A syntax error at lines `start`..`end` of `file`. */
function syntaxError(file: string, start: number, end: number, message: string, hint: string): DockerfileError {
  return new DockerfileError('TSB_DOCKERFILE_SYNTAX', message, { location: { file, startLine: start, endLine: end }, hint });
}

function parseDirectives(lines: string[], file: string): { directives: Directives; start: number } {
  const directives: Directives = { escape: '\\' };
  const seen = new Set<string>();
  let i = 0;
  for (; i < lines.length; i++) {
    const line = i === 0 ? lines[i]!.replace(/^\uFEFF/, '') : lines[i]!;
    const m = directiveRe.exec(line);
    if (!m) break;
    const key = m[1]!.toLowerCase();
    if (!['syntax', 'escape', 'check'].includes(key)) break;
    if (seen.has(key)) throw syntaxError(file, i + 1, i + 1, `only one ${key} parser directive can be used`, `keep one # ${key}= line`);
    seen.add(key);
    const value = m[2]!;
    if (key === 'escape') {
      if (value !== '\\' && value !== '`') {
        throw syntaxError(file, i + 1, i + 1, `invalid escape token '${value}' does not match ` + '` or \\', 'use # escape=\\ or # escape=`');
      }
      directives.escape = value;
    } else if (key === 'syntax') directives.syntax = value;
    else {
      directives.check = value;
      directives.checkLine = i + 1;
    }
  }
  return { directives, start: i };
}

function isComment(line: string): boolean {
  return commentRe.test(line);
}

function isBlank(line: string): boolean {
  return blankRe.test(line);
}

/** Splits leading `--flag[=value]` words off the arguments, honouring quotes in values. */
export function splitFlags(args: string): { flags: string[]; rest: string } {
  const flags: string[] = [];
  let s = args;
  for (;;) {
    s = s.replace(leadingSpaceRe, '');
    if (!s.startsWith('--')) break;
    let i = 0;
    let quote = '';
    let word = '';
    for (; i < s.length; i++) {
      const c = s[i]!;
      if (quote) {
        if (c === quote) quote = '';
        word += c;
      } else if (c === '"' || c === "'") {
        quote = c;
        word += c;
      } else if (c === ' ' || c === '\t') break;
      else word += c;
    }
    if (word === '--') {
      s = s.slice(i);
      break;
    }
    flags.push(word);
    s = s.slice(i);
  }
  return { flags, rest: s.replace(leadingSpaceRe, '') };
}

/** Exec form: a JSON array of strings, exactly; anything else is shell form. */
export function parseJSONForm(rest: string): string[] | undefined {
  const t = rest.trim();
  if (!t.startsWith('[')) return undefined;
  try {
    const v: unknown = JSON.parse(t);
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  } catch {
    // not JSON: shell form, as BuildKit does
  }
  return undefined;
}

const heredocRe = /<<(-?)\s*(?:(['"])([^'"\s]+)\2|([A-Za-z_][\w.-]*))/g;

/** Heredoc markers on an instruction line, in order. */
function findHeredocs(text: string): Array<{ name: string; expand: boolean; chomp: boolean }> {
  const out: Array<{ name: string; expand: boolean; chomp: boolean }> = [];
  let quote = '';
  // Only markers outside quotes count.
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === quote) quote = '';
      continue;
    }
    if (c === '"' || c === "'") {
      quote = c;
      continue;
    }
    if (c === '<' && text[i + 1] === '<' && text[i + 2] !== '<') {
      heredocRe.lastIndex = i;
      const m = heredocRe.exec(text);
      if (m && m.index === i) {
        out.push({ name: m[3] ?? m[4]!, expand: !m[2], chomp: m[1] === '-' });
        i = heredocRe.lastIndex - 1;
      }
    }
  }
  return out;
}

/** Parses a Dockerfile; `file` is the name its errors are located in. */
export function parse(text: string, file = 'Dockerfile'): ParseResult {
  if (text.length === 0) throw syntaxError(file, 1, 1, 'the Dockerfile cannot be empty', 'start the Dockerfile with FROM <image> (or FROM scratch)');
  const lines = text.split(/\r?\n/);
  const { directives, start } = parseDirectives(lines, file);
  const esc = directives.escape;
  const nodes: Node[] = [];
  const warnings: ParseResult['warnings'] = [];
  const continuation = new RegExp(`${esc === '\\' ? '\\\\' : esc}[ \\t]*$`);

  let i = start;
  while (i < lines.length) {
    const first = lines[i]!;
    if (first.length > MAX_LINE) throw syntaxError(file, i + 1, i + 1, `dockerfile line greater than max allowed size of ${MAX_LINE}`, 'split the line with continuations (a \\ at the end of a line)');
    if (isBlank(first) || isComment(first)) {
      i++;
      continue;
    }
    const startLine = i + 1;
    let logical = '';
    let line = first;
    let emptyInContinuation = false;
    for (;;) {
      if (continuation.test(line)) {
        logical += line.replace(continuation, '');
        i++;
        // Comments and blank lines inside a continuation are dropped.
        while (i < lines.length && (isComment(lines[i]!) || isBlank(lines[i]!))) {
          if (isBlank(lines[i]!)) emptyInContinuation = true;
          i++;
        }
        if (i >= lines.length) break; // continuation at EOF: take what we have, as BuildKit does
        line = lines[i]!;
        continue;
      }
      logical += line;
      i++;
      break;
    }
    const endLineBeforeHeredoc = i;
    if (emptyInContinuation) warnings.push({ rule: 'NoEmptyContinuation', message: 'Empty continuation line', line: startLine });

    const m = instructionRe.exec(logical);
    const keyword = m?.[1] ?? '';
    const instruction = keyword.toUpperCase();
    const args = (m?.[2] ?? '').replace(trailingSpaceRe, '');
    const { flags, rest } = instruction === 'ONBUILD' ? { flags: [], rest: args } : splitFlags(args);

    const json = jsonInstructions.has(instruction) ? parseJSONForm(rest) : undefined;
    const heredocs: Heredoc[] = [];
    // (most lines have no << at all: no need to look for markers)
    if (heredocInstructions.has(instruction) && !json && rest.includes('<<')) {
      for (const h of findHeredocs(rest)) {
        const body: string[] = [];
        let closed = false;
        while (i < lines.length) {
          const l = lines[i]!;
          i++;
          const candidate = h.chomp ? l.replace(/^\t+/, '') : l;
          if (candidate === h.name) {
            closed = true;
            break;
          }
          body.push(candidate);
        }
        if (!closed) {
          throw syntaxError(file, startLine, i, `unterminated heredoc "${h.name}": no line "${h.name}" ends it`, `add a line containing only ${h.name}`);
        }
        heredocs.push({ name: h.name, content: body.length ? `${body.join('\n')}\n` : '', expand: h.expand, chomp: h.chomp });
      }
    }
    const endLine = heredocs.length ? i : endLineBeforeHeredoc;
    nodes.push({
      instruction,
      keyword,
      flags,
      rest,
      json,
      heredocs,
      startLine,
      endLine,
    });
  }
  if (nodes.length === 0) throw syntaxError(file, 1, 1, 'file with no instructions', 'start the Dockerfile with FROM <image> (or FROM scratch)');
  return { directives, nodes, warnings };
}

/**
 * The tokens of splitWords for one escape character: a run of whitespace (which ends a word), a
 * double-quoted string (the escape takes the next character with it), a single-quoted string
 * (taken as it is), an escape and the character it protects, or a run of anything else. An
 * unterminated quote runs to the end. One native scan instead of a loop over every character.
 */
const wordTokens = new Map<string, RegExp>();

function wordTokenRe(escape: string): RegExp {
  let re = wordTokens.get(escape);
  if (!re) {
    const e = escape === '\\' ? '\\\\' : escape;
    re = new RegExp(`(\\s+)|"(?:${e}[\\s\\S]?|[^"${e}])*"?|'[^']*'?|${e}[\\s\\S]?|[^\\s"'${e}]+`, 'y');
    wordTokens.set(escape, re);
  }
  return re;
}

/** Splits arguments on whitespace, keeping quotes and escapes in the words (they are expanded later, one word at a time). */
export function splitWords(text: string, escape: string): string[] {
  const out: string[] = [];
  const re = wordTokenRe(escape);
  let cur = '';
  let has = false;
  re.lastIndex = 0;
  while (re.lastIndex < text.length) {
    const m = re.exec(text)!;
    if (m[1] !== undefined) {
      if (has) out.push(cur);
      cur = '';
      has = false;
    } else {
      cur += m[0];
      has = true;
    }
  }
  if (has) out.push(cur);
  return out;
}
