// The size-bounded build cache: after a build that added to the cache, the cache is trimmed, least
// recently used first, to a bound (as BuildKit's GC; by default 10% of the disk holding the store, its
// documented default). Knowing whether the cache is over the bound costs no walk: cache/gc.json holds
// an estimate of its size, which a build raises by what it added (measured on its new layers only) and
// a prune resets to what it measured. Only an estimate over the bound makes a build walk the store.
// Untagging never lowers the estimate, so it mostly errs high: a walk too early rather than too late.
import { readFileSync, statfsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { parseSize } from '../common/units.js';
import { isSealed } from '../snapshotter/snapshots.js';
import type { Store } from '../snapshotter/store.js';
import type { CacheRecord } from './cache.js';
import { diskUsage, pruneCache, sizeOf, StoreBusyError, type PruneOptions, type PruneParts } from './prune.js';

/** BuildKit keeps 10% of the disk for build cache by default. */
const DEFAULT_DISK_FRACTION = 0.1;

/**
 * The bound in bytes, or undefined when off: $TSBUILD_GC_KEEP_STORAGE, else "gc.keepStorage" in the
 * store's tsbuild.json; a size (10GB), a share of the disk (15%), or "off".
 */
export function cacheBound(store: Store): number | undefined {
  let setting = process.env.TSBUILD_GC_KEEP_STORAGE;
  if (setting === undefined) {
    try {
      const conf = JSON.parse(readFileSync(path.join(store.root, 'tsbuild.json'), 'utf8')) as { gc?: { keepStorage?: unknown } };
      if (conf.gc?.keepStorage !== undefined) setting = String(conf.gc.keepStorage);
    } catch {
      // no config file: the default
    }
  }
  if (setting === 'off') return undefined;
  const percent = /^(\d+(?:\.\d+)?)%$/.exec(setting ?? '');
  if (setting !== undefined && !percent) return parseSize(setting, 'TSBUILD_GC_KEEP_STORAGE (or gc.keepStorage in tsbuild.json)');
  const fs = statfsSync(store.root);
  return Math.floor(fs.blocks * fs.bsize * (percent ? Number(percent[1]) / 100 : DEFAULT_DISK_FRACTION));
}

const estimateFile = (store: Store): string => path.join(store.cacheDir, 'gc.json');

async function readEstimate(store: Store): Promise<number | undefined> {
  try {
    const v = (JSON.parse(await readFile(estimateFile(store), 'utf8')) as { estimate?: unknown }).estimate;
    return typeof v === 'number' && v >= 0 ? v : undefined;
  } catch {
    return undefined;
  }
}

const writeEstimate = (store: Store, bytes: number): Promise<void> => store.writeFileAtomic(estimateFile(store), JSON.stringify({ estimate: bytes }));

/** `tsbuild prune`: bytes freed; the estimate becomes what is left. */
export async function pruneBuildCache(parts: PruneParts, opts: PruneOptions): Promise<number> {
  const { freed, remaining } = await pruneCache(parts, opts);
  if (!opts.all) await writeEstimate(parts.store, remaining);
  return freed;
}

/** The bytes a build's new records added: their top layers' snapshots and blobs (what it wrote anyway). */
async function addedBytes(parts: PruneParts, made: readonly CacheRecord[]): Promise<number> {
  let n = 0;
  for (const rec of made) {
    const top = rec.chain.at(-1);
    if (!rec.addedLayer || !top) continue;
    // A pending layer has no tar to go by: its snapshot is walked (one lstat per entry, synchronous).
    if (!isSealed(top)) {
      n += sizeOf(parts.snapshots.dir(top.chainID));
      continue;
    }
    // A built layer is stored as its plain tar, which holds what its snapshot does: count the
    // snapshot as that size rather than walk it (a COPY of a large context is tens of thousands of lstats).
    const snapshot = top.blob.digest === top.diffID ? top.blob.size : sizeOf(parts.snapshots.dir(top.chainID));
    n += snapshot + (await stat(parts.content.path(top.blob.digest)).then((s) => s.size, () => 0));
  }
  return n;
}

/** At the end of a build: counts what it added, and trims the cache if that takes it over the bound. */
export async function collectGarbage(parts: PruneParts, made: readonly CacheRecord[], bound: number | undefined): Promise<void> {
  if (made.length === 0 || bound === undefined) return; // nothing added: nothing to count, nothing written
  const added = await addedBytes(parts, made);
  // A build that finds another one counting or trimming leaves it to that one (its bytes go uncounted:
  // the next prune or trim measures them).
  const release = await parts.store.lock('gc', { wait: false });
  if (!release) return;
  try {
    // A store without an estimate (new, or from before the bound) is measured once.
    const estimate = ((await readEstimate(parts.store)) ?? (await diskUsage(parts)).buildCache - added) + added;
    // Another build may be using anything not tagged yet: the next build past the bound trims.
    if (estimate <= bound || parts.store.otherUsers().length > 0) return await writeEstimate(parts.store, estimate);
    const { remaining } = await pruneCache(parts, { keepStorage: bound });
    await writeEstimate(parts.store, remaining);
  } catch (e) {
    // A build that started meanwhile holds the store: the build is done, and the next one trims.
    if (!(e instanceof StoreBusyError)) throw e;
  } finally {
    await release();
  }
}
