// `prune` and `du`: the build cache is everything in the store that no tagged image needs —
// cache records, the snapshots and blobs only they use — plus (with --all) cache mounts.
import { TsbuildError } from '../common/errors.js';
import { lstat, readdir, readFile, rm, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { ContentStore } from '../snapshotter/content.js';
import type { ImageStore } from '../snapshotter/images.js';
import { MediaType, type Descriptor, type Digest } from '../common/oci.js';
import { chainIDOf, type Snapshots } from '../snapshotter/snapshots.js';
import type { Store } from '../snapshotter/store.js';
import type { CacheRecord } from './cache.js';
import { staleStatCaches } from './statcache.js';

export class StoreBusyError extends TsbuildError {
  constructor(pids: number[]) {
    super('TSB_STORE_BUSY', `the store is in use by another tsbuild (pid ${pids.join(', ')})`, { hint: 'try again when those builds have finished' });
  }
}

export interface SpaceReport {
  /** Blobs of tagged images. */
  images: number;
  /** Blobs, snapshots and records no tagged image needs (what prune removes). */
  buildCache: number;
  /** Unpacked layers of tagged images. */
  snapshots: number;
  cacheMounts: number;
}

async function sizeOf(p: string): Promise<number> {
  const st = await lstat(p).catch(() => null);
  if (!st) return 0;
  if (!st.isDirectory()) return st.size;
  let total = 0;
  for (const name of await readdir(p)) total += await sizeOf(path.join(p, name));
  return total;
}

/** What tagged images keep: their blobs (manifests, configs, layers) and their layers' snapshots. */
async function liveSet(content: ContentStore, images: ImageStore, snapshots: Snapshots): Promise<{ blobs: Set<string>; snapshotDirs: Set<string> }> {
  const blobs = new Set<string>();
  const snapshotDirs = new Set<string>();
  const visit = async (d: Descriptor): Promise<void> => {
    if (blobs.has(d.digest) || !(await content.has(d.digest))) return;
    blobs.add(d.digest);
    const doc = await content.readImageDocument(d.digest);
    if (doc.kind === 'index') {
      for (const m of doc.index.manifests) await visit(m);
      return;
    }
    const { manifest } = doc;
    blobs.add(manifest.config.digest);
    for (const l of manifest.layers) blobs.add(l.digest);
    const config = await content.readImageConfig(manifest.config.digest).catch(() => undefined);
    let chain: Digest | undefined;
    for (const diffID of config?.rootfs.diff_ids ?? []) {
      chain = chainIDOf(chain, diffID);
      snapshotDirs.add(path.basename(snapshots.dir(chain)));
    }
  };
  for (const img of await images.list()) await visit({ ...img.descriptor, mediaType: img.descriptor.mediaType ?? MediaType.ociManifest });
  return { blobs, snapshotDirs };
}

/**
 * The files of cache/ that prune removes: the cache records whose layers would go too (a record whose
 * layers a tagged image keeps costs nothing, and keeps a rebuild of that image cached); with `all`,
 * everything, the context stat cache included.
 */
async function reclaimableCacheFiles(store: Store, snapshots: Snapshots, live: { blobs: Set<string>; snapshotDirs: Set<string> }, all: boolean): Promise<string[]> {
  const keptAnyway = async (file: string): Promise<boolean> => {
    try {
      const rec = JSON.parse(await readFile(file, 'utf8')) as CacheRecord;
      return rec.chain.every((l) => live.snapshotDirs.has(path.basename(snapshots.dir(l.chainID))) && live.blobs.has(l.blob.digest));
    } catch {
      return false;
    }
  };
  const out: string[] = [];
  for (const name of await readdir(store.cacheDir)) {
    const file = path.join(store.cacheDir, name);
    const keep = !all && (name === 'stat' || name === 'blob-sources.json' || (/^[a-f0-9]{64}\.json$/.test(name) && (await keptAnyway(file))));
    if (!keep) out.push(file);
  }
  if (!all) out.push(...(await staleStatCaches(store)));
  return out;
}

export async function diskUsage(store: Store, content: ContentStore, images: ImageStore, snapshots: Snapshots): Promise<SpaceReport> {
  const live = await liveSet(content, images, snapshots);
  const report: SpaceReport = { images: 0, buildCache: 0, snapshots: 0, cacheMounts: await sizeOf(store.cacheMountsDir) };
  for (const name of await readdir(store.blobsDir)) {
    const size = await sizeOf(path.join(store.blobsDir, name));
    if (live.blobs.has(`sha256:${name}`)) report.images += size;
    else report.buildCache += size;
  }
  for (const name of await readdir(store.snapshotsDir)) {
    const size = await sizeOf(path.join(store.snapshotsDir, name));
    if (live.snapshotDirs.has(name)) report.snapshots += size;
    else report.buildCache += size;
  }
  for (const file of await reclaimableCacheFiles(store, snapshots, live, false)) report.buildCache += await sizeOf(file);
  return report;
}

/** Removes the build cache; with `all`, cache mounts and the context stat cache too. Returns bytes freed. */
export async function prune(store: Store, content: ContentStore, images: ImageStore, snapshots: Snapshots, opts: { all?: boolean } = {}): Promise<number> {
  // A running build may be using any snapshot or blob it has not tagged yet.
  const busy = store.otherUsers();
  if (busy.length) throw new StoreBusyError(busy);
  return store.withLock('index', async () => {
    const live = await liveSet(content, images, snapshots);
    let freed = 0;
    const remove = async (p: string): Promise<void> => {
      freed += await sizeOf(p);
      await rm(p, { recursive: true, force: true });
    };
    // Cache records first: a record must never point at a snapshot or blob that is gone.
    for (const file of await reclaimableCacheFiles(store, snapshots, live, opts.all === true)) await remove(file);
    for (const name of await readdir(store.snapshotsDir)) {
      if (!live.snapshotDirs.has(name)) await remove(path.join(store.snapshotsDir, name));
    }
    for (const name of await readdir(store.blobsDir)) {
      if (live.blobs.has(`sha256:${name}`)) continue;
      const p = path.join(store.blobsDir, name);
      freed += await sizeOf(p);
      await unlink(p).catch(() => {});
    }
    if (opts.all) {
      for (const name of await readdir(store.cacheMountsDir)) await remove(path.join(store.cacheMountsDir, name));
    }
    return freed;
  });
}
