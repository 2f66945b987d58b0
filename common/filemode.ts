// File modes as `COPY --chmod` takes them: octal (755) or symbolic as chmod(1) reads it (u=rwX,go=rX).
// The frontend parses the flag once into a FileMode; the solver applies it to each copied entry.

interface Clause {
  /** Bits of the classes it applies to (u/g/o), from a mask of 0o7777. */
  who: number;
  actions: Array<{ op: '+' | '-' | '='; perms: string }>;
}

export type SymbolicMode = Clause[];

/** A parsed --chmod: a fixed mode, or clauses applied to each entry's own mode. */
export type FileMode = { kind: 'octal'; mode: number } | { kind: 'symbolic'; clauses: SymbolicMode };

const WHO: Record<string, number> = { u: 0o4700, g: 0o2070, o: 0o1007, a: 0o7777 };

/** undefined when `s` is not a valid symbolic mode. */
export function parseSymbolicMode(s: string): SymbolicMode | undefined {
  const clauses: Clause[] = [];
  for (const part of s.split(',')) {
    const m = /^([ugoa]*)((?:[-+=][rwxXst]*)+)$/.exec(part);
    if (!m) return undefined;
    const who = m[1] ? [...m[1]].reduce((acc, c) => acc | WHO[c]!, 0) : WHO.a!;
    const actions = [...m[2]!.matchAll(/([-+=])([rwxXst]*)/g)].map((a) => ({ op: a[1] as '+' | '-' | '=', perms: a[2]! }));
    clauses.push({ who, actions });
  }
  return clauses.length ? clauses : undefined;
}

/** The mode `spec` gives an entry whose mode is `mode` (X: execute only for directories or already-executable files). */
export function applySymbolicMode(mode: number, spec: SymbolicMode, isDir: boolean): number {
  let out = mode & 0o7777;
  for (const { who, actions } of spec) {
    for (const { op, perms } of actions) {
      let bits = 0;
      for (const p of perms) {
        if (p === 'r') bits |= 0o444;
        else if (p === 'w') bits |= 0o222;
        else if (p === 'x') bits |= 0o111;
        else if (p === 'X' && (isDir || (out & 0o111) !== 0)) bits |= 0o111;
        else if (p === 's') bits |= 0o6000;
        else if (p === 't') bits |= 0o1000;
      }
      bits &= who;
      if (op === '+') out |= bits;
      else if (op === '-') out &= ~bits;
      else out = (out & ~(who & 0o777)) | bits;
    }
  }
  return out;
}

/** `755`, `0644` or a symbolic mode; undefined when `s` is neither. */
export function parseFileMode(s: string): FileMode | undefined {
  if (/^[0-7]{3,4}$/.test(s)) return { kind: 'octal', mode: parseInt(s, 8) };
  const clauses = parseSymbolicMode(s);
  return clauses ? { kind: 'symbolic', clauses } : undefined;
}
