// Exclude patterns with moby/patternmatcher semantics (what BuildKit uses for .dockerignore):
// `*` and `?` stay within one path component, `**` spans any number, the last matching pattern
// wins, `!` re-includes, and a pattern matching a parent directory excludes everything below it.
import { globRegExp } from './globregexp.js';

interface Compiled {
  negative: boolean;
  re: RegExp;
  /** The pattern's leading literal directories: a dir outside them can't hold a re-included path. */
  dirs: string[];
}

export class PatternMatcher {
  private readonly patterns: Compiled[];
  readonly hasExclusions: boolean;

  constructor(patterns: readonly string[]) {
    this.patterns = patterns.map((p) => {
      const negative = p.startsWith('!');
      const body = negative ? p.slice(1) : p;
      return { negative, re: globRegExp(body, { doubleStar: true }), dirs: body.split('/') };
    });
    this.hasExclusions = this.patterns.some((p) => p.negative);
  }

  get empty(): boolean {
    return this.patterns.length === 0;
  }

  /** Whether a clean relative path (no leading /) is excluded. */
  matches(rel: string): boolean {
    let matched = false;
    const parents: string[] = [];
    for (let d = rel; d.includes('/'); ) {
      d = d.slice(0, d.lastIndexOf('/'));
      parents.push(d);
    }
    for (const p of this.patterns) {
      if (p.negative !== matched) continue; // cannot change the outcome
      let hit = p.re.test(rel);
      if (!hit) hit = parents.some((d) => p.re.test(d));
      if (hit) matched = !p.negative;
    }
    return matched;
  }

  /** An excluded directory must still be walked when a later `!` pattern could re-include below it. */
  mayReincludeUnder(dir: string): boolean {
    if (!this.hasExclusions) return false;
    const parts = dir.split('/');
    return this.patterns.some((p) => {
      if (!p.negative) return false;
      // Compare literal leading components; wildcards could match anything.
      for (let i = 0; i < Math.min(parts.length, p.dirs.length); i++) {
        const pat = p.dirs[i]!;
        if (/[*?[\\]/.test(pat)) return true;
        if (pat !== parts[i]) return false;
      }
      return true;
    });
  }
}
