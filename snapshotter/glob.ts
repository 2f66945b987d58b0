// COPY source patterns in Go's filepath.Match syntax (`*` `?` `[...]` `\\x`), matched and expanded
// component by component against a source tree (the syntax itself is common/globregexp.ts).
import { globRegExp } from '../common/globregexp.js';
import type { SourceTree } from './tree.js';

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
