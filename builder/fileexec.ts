// One file step (COPY, ADD, WORKDIR's mkdir) run into an upper dir: its actions in order, each
// reading from its input's tree and writing over a merged view of the rootfs (what RUN's exec.ts is
// for a container).
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { CopyAction, FileOp } from './graph.js';
import type { CopyBase } from './copybase.js';
import { resolveOwner } from './user.js';
import { applySymbolicMode } from '../common/filemode.js';
import { PatternMatcher } from '../common/patterns.js';
import { UpperWriter, type Owner } from '../snapshotter/fileop.js';
import type { LayerChain, Snapshots } from '../snapshotter/snapshots.js';
import type { Store } from '../snapshotter/store.js';
import { DirTree, FilteredTree, type SourceTree } from '../snapshotter/tree.js';
import { MergedView } from '../snapshotter/view.js';

/** COPY --exclude: the tree minus paths matching the patterns (relative to the source root). */
export function withExcludes(tree: SourceTree, excludes: readonly string[] | undefined): SourceTree {
  if (!excludes?.length) return tree;
  const m = new PatternMatcher(excludes);
  return new FilteredTree(tree, (rel) => m.matches(rel) || m.matches(path.posix.basename(rel)));
}

/** Heredoc sources as files in a scratch directory (0644, like BuildKit's mkfile). */
async function inlineTree(store: Store, files: NonNullable<CopyAction['inline']>): Promise<DirTree> {
  const dir = store.tmpPath('inline');
  await mkdir(dir, { recursive: true });
  for (const f of files) await writeFile(path.join(dir, f.name), f.data, { mode: 0o644 });
  return new DirTree(dir);
}

/** Runs `op` on `rootfs` into `upper`; `trees[i]` is what input i offers; `base`: an incremental COPY's earlier snapshot. */
export async function runFileOp(op: FileOp, rootfs: LayerChain, trees: readonly SourceTree[], upper: string, ctx: { store: Store; snapshots: Snapshots }, base?: CopyBase): Promise<void> {
  const view = new MergedView(ctx.snapshots.lowerDirs(rootfs));
  const writer = new UpperWriter(upper, view, base);
  const owner = (c: CopyAction['chown']): Owner | undefined => (c ? resolveOwner(view, c.user, c.group) : undefined);
  for (const a of op.actions) {
    if (a.type === 'mkdir') {
      await writer.mkdirAll(a.path, a.mode, owner(a.chown));
      continue;
    }
    const tree = a.inline ? await inlineTree(ctx.store, a.inline) : withExcludes(trees[a.from]!, a.excludes);
    const { chmod } = a;
    const mode = chmod?.kind === 'symbolic' ? (m: number, isDir: boolean) => applySymbolicMode(m, chmod.clauses, isDir) : chmod?.mode;
    await writer.copy(tree, a.src, a.dest, { owner: owner(a.chown), mode, parents: a.parents, unpack: a.unpack });
  }
  await writer.finish();
}
