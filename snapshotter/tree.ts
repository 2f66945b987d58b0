// A read-only tree that COPY reads from: the build context (a host directory filtered by
// .dockerignore) or another stage's filesystem (a merged layer view). Paths are clean and relative.
import { readdirSync, readlinkSync, type Stats } from 'node:fs';
import path from 'node:path';
import { lstatOrNull, type MergedView } from './view.js';

export interface SourceTree {
  lstat(rel: string): Stats | null;
  /** Sorted names, excluded entries omitted. */
  readdir(rel: string): string[];
  /** Where to read the file's content on the host. */
  hostPath(rel: string): string;
  readlink(rel: string): string;
  /** Follows symlinks inside the tree (chroot semantics); returns a clean relative path. */
  resolve(rel: string): string;
  /** Whether ownership in this tree is meaningful (false for the context: files become 0:0). */
  readonly keepsOwnership: boolean;
}

export type ExcludeFn = (rel: string) => boolean;

/** What a context walk leaves out; `descend` keeps an excluded directory when something below it is re-included (`!d/keep`). */
export interface ContextFilter {
  excluded: ExcludeFn;
  descend?: ExcludeFn;
}

export class DirTree implements SourceTree {
  readonly keepsOwnership = false;
  readonly hasExcludes: boolean;
  constructor(readonly root: string, private readonly filter?: ContextFilter) {
    this.hasExcludes = filter !== undefined;
  }

  /** Hidden: excluded, unless it is a directory holding re-included paths. */
  private hidden(rel: string, st: Stats | null): boolean {
    if (!this.filter || !rel || !this.filter.excluded(rel)) return false;
    return !(st?.isDirectory() && this.filter.descend?.(rel));
  }

  lstat(rel: string): Stats | null {
    const st = lstatOrNull(path.join(this.root, rel));
    return this.hidden(rel, st) ? null : st;
  }

  readdir(rel: string): string[] {
    let names: string[];
    try {
      names = readdirSync(path.join(this.root, rel));
    } catch {
      return [];
    }
    if (!this.filter) return names.sort();
    return names.filter((n) => {
      const child = rel ? `${rel}/${n}` : n;
      return !this.filter!.excluded(child) || !this.hidden(child, lstatOrNull(path.join(this.root, child)));
    }).sort();
  }

  hostPath(rel: string): string {
    return path.join(this.root, rel);
  }

  readlink(rel: string): string {
    return readlinkSync(path.join(this.root, rel));
  }

  resolve(rel: string, depth = 0): string {
    const parts = rel.split('/').filter((c) => c && c !== '.');
    const out: string[] = [];
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i]!;
      if (part === '..') {
        out.pop();
        continue;
      }
      out.push(part);
      const st = lstatOrNull(path.join(this.root, ...out));
      if (st?.isSymbolicLink() && depth < 40) {
        const target = readlinkSync(path.join(this.root, ...out));
        out.pop();
        const base = target.startsWith('/') ? target : [...out, target].join('/');
        return this.resolve([base, ...parts.slice(i + 1)].join('/'), depth + 1);
      }
    }
    return out.join('/');
  }
}

/** Another tree with some paths hidden (COPY --exclude). */
export class FilteredTree implements SourceTree {
  readonly keepsOwnership: boolean;
  constructor(private readonly inner: SourceTree, private readonly excluded: ExcludeFn) {
    this.keepsOwnership = inner.keepsOwnership;
  }
  lstat(rel: string): Stats | null {
    return rel && this.excluded(rel) ? null : this.inner.lstat(rel);
  }
  readdir(rel: string): string[] {
    return this.inner.readdir(rel).filter((n) => !this.excluded(rel ? `${rel}/${n}` : n));
  }
  hostPath(rel: string): string {
    return this.inner.hostPath(rel);
  }
  readlink(rel: string): string {
    return this.inner.readlink(rel);
  }
  resolve(rel: string): string {
    return this.inner.resolve(rel);
  }
}

export class ViewTree implements SourceTree {
  readonly keepsOwnership = true;
  constructor(private readonly view: MergedView) {}

  lstat(rel: string): Stats | null {
    return this.view.lookup(`/${rel}`)?.stat ?? null;
  }

  readdir(rel: string): string[] {
    return this.view.readdir(`/${rel}`);
  }

  hostPath(rel: string): string {
    const e = this.view.lookup(`/${rel}`);
    if (!e) throw new Error(`${rel}: not found`);
    return e.hostPath;
  }

  readlink(rel: string): string {
    return readlinkSync(this.hostPath(rel));
  }

  resolve(rel: string): string {
    return this.view.resolve(`/${rel}`).slice(1);
  }
}
