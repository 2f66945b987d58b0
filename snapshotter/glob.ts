// Path patterns in Go's filepath.Match syntax (`*` `?` `[...]` `\\x`), as COPY sources use them, and
// with `**` spanning directories, as .dockerignore patterns (moby/patternmatcher) do.
import type { SourceTree } from './tree.js';

/** A regex for a whole path (or one component); `doubleStar` lets `**` match any number of directories. */
export function globRegExp(pattern: string, opts: { doubleStar?: boolean } = {}): RegExp {
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') {
      if (opts.doubleStar && pattern[i + 1] === '*') {
        i++;
        if (pattern[i + 1] === '/') i++;
        re += i + 1 >= pattern.length ? '.*' : '(.*/)?';
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else if (c === '\\' && i + 1 < pattern.length) re += `\\${pattern[++i]}`;
    else if (c === '[') {
      const close = pattern.indexOf(']', i + 1);
      if (close < 0) re += '\\[';
      else {
        re += `[${pattern.slice(i + 1, close).replace(/^!/, '^')}]`;
        i = close;
      }
    } else if ('.+()|{}$^'.includes(c)) re += `\\${c}`;
    else re += c;
  }
  return new RegExp(`${re}$`, 's');
}

/** Go's filepath.Match for one path component. */
export function matchComponent(pattern: string, name: string): boolean {
  return globRegExp(pattern).test(name);
}

export function hasGlob(p: string): boolean {
  return /[*?[]/.test(p);
}

/** Expands a source pattern against the tree, component by component. */
export function glob(tree: SourceTree, pattern: string): string[] {
  const parts = pattern.split('/').filter((c) => c && c !== '.');
  let cur = [''];
  for (const part of parts) {
    const next: string[] = [];
    for (const base of cur) {
      if (!hasGlob(part)) {
        const p = base ? `${base}/${part}` : part;
        if (tree.lstat(p)) next.push(p);
        continue;
      }
      // List through the resolved path: a symlinked directory must not lead outside the tree.
      for (const name of tree.readdir(base ? tree.resolve(base) : base)) {
        if (matchComponent(part, name)) next.push(base ? `${base}/${name}` : name);
      }
    }
    cur = next;
  }
  return cur;
}
