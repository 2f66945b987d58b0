// Turns a solved build into an image: the config with history as BuildKit writes it, over the
// layer chain, written by imagewriter.ts.
import type { BuildDefinition } from './graph.js';
import type { Solver } from './solver.js';
import type { ContentStore } from '../snapshotter/content.js';
import type { HistoryEntry, ImageConfig } from '../common/oci.js';
import { writeImage, type WrittenImage } from './imagewriter.js';
import { inlineCache, INLINE_FIELD, type ExportRecord } from './remotecache/format.js';
import type { SealedChain } from '../snapshotter/snapshots.js';

const HISTORY_COMMENT = 'buildkit.dockerfile.v0';

export async function exportImage(
  content: ContentStore,
  solver: Solver,
  def: BuildDefinition,
  chain: SealedChain,
  /** inlineCache: records to carry in the config (--cache-to type=inline). */
  opts: { sourceDateEpoch?: number; inlineCache?: readonly ExportRecord[]; annotations?: Readonly<Record<string, string>> } = {},
): Promise<WrittenImage> {
  const epoch = opts.sourceDateEpoch !== undefined ? new Date(opts.sourceDateEpoch * 1000).toISOString().replace('.000Z', 'Z') : undefined;
  const base = def.baseHistory ?? [];
  let last = epoch ?? base.at(-1)?.created ?? new Date(0).toISOString();
  const history: HistoryEntry[] = base.map((h) => ({ ...h }));
  for (const item of def.history) {
    const outcome = item.vertex ? await solver.outcome(item.vertex) : undefined;
    // Metadata-only steps take the time of the step before them, so a cached rebuild is identical.
    const created = epoch ?? outcome?.created ?? last;
    last = created;
    const entry: HistoryEntry = { created, created_by: item.createdBy, comment: HISTORY_COMMENT };
    if (!outcome?.addedLayer) entry.empty_layer = true;
    history.push(entry);
  }
  const config: ImageConfig = {
    ...(def.config.author ? { author: def.config.author } : {}),
    architecture: def.config.architecture,
    os: def.config.os,
    ...(def.config.variant ? { variant: def.config.variant } : {}),
    created: last,
    config: def.config.config,
    rootfs: { type: 'layers', diff_ids: chain.map((l) => l.diffID) },
    history,
    ...(opts.inlineCache ? { [INLINE_FIELD]: inlineCache(opts.inlineCache, chain) } : {}),
  };
  return writeImage(content, config, chain.map((l) => l.blob), opts.annotations);
}
