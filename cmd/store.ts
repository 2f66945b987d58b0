// The store-maintenance commands' flags and output: prune's --keep-storage and --filter, and the
// fsck report as text (one line per problem and what --repair did about it, then a summary).
import type { FsckReport, PruneOptions } from '../builder/engine.js';
import { UsageError } from '../common/errors.js';
import { parseDuration, parseSize } from '../common/units.js';

/** prune's flags; the one --filter a daemonless cache has is until=DURATION. */
export function pruneOptions(all: boolean, keepStorage: string | undefined, filters: readonly string[]): PruneOptions {
  const opts: PruneOptions = { all };
  if (keepStorage !== undefined) opts.keepStorage = parseSize(keepStorage, '--keep-storage');
  for (const f of filters) {
    const m = /^until=(.+)$/.exec(f);
    if (!m) throw new UsageError(`unsupported prune filter "${f}"`, 'use --filter until=DURATION, e.g. --filter until=24h');
    opts.until = parseDuration(m[1]!, '--filter until');
  }
  return opts;
}

export function formatFsck(r: FsckReport): string {
  const lines = r.problems.map((p) => `${p.area} ${p.id}: ${p.problem}${p.repaired ? ` (${p.repaired})` : ''}`);
  const c = r.checked;
  const what = `checked ${c.blobs} blobs, ${c.images} images, ${c.snapshots} snapshots, ${c.cacheRecords} cache records`;
  const unrepaired = r.problems.filter((p) => !p.repaired).length;
  const verdict = r.problems.length === 0 ? 'no problems' : unrepaired === 0 ? `${r.problems.length} problems, all repaired` : `${r.problems.length} problems${r.repaired ? `, ${unrepaired} not repaired` : ': run tsbuild fsck --repair to remove what is damaged'}`;
  return `${[...lines, `${what}: ${verdict}`].join('\n')}\n`;
}
