// Symbolic modes as chmod(1) and `COPY --chmod=u=rwX,go=rX` take them.

interface Clause {
  /** Bits of the classes it applies to (u/g/o), from a mask of 0o7777. */
  who: number;
  actions: Array<{ op: '+' | '-' | '='; perms: string }>;
}

export type SymbolicMode = Clause[];

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
