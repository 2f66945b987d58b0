// `prune` and `du`: the build cache is everything in the store that no tagged image needs — cache
// records, the snapshots and blobs only they use — plus (with --all) cache mounts and the cache's
// other files. Pruning is least recently used first, as BuildKit's: a record's last use is its file's
// mtime (set when it is made, and refreshed by builds that hit it: see BuildCache.touchUsed), and a
// snapshot or blob no record names is as old as its own mtime.
import { TsbuildError } from '../common/errors.js';
import { lstatSync, readdirSync } from 'node:fs';
import { lstat, readdir, readFile, rm, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { ContentStore } from '../snapshotter/content.js';
import type { ImageStore } from '../snapshotter/images.js';
import { MediaType, type Descriptor, type Digest } from '../common/oci.js';
import { chainIDOf, isSealed, type Snapshots } from '../snapshotter/snapshots.js';
import type { Store } from '../snapshotter/store.js';
import { parseCacheRecord } from './cache.js';
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

export interface PruneOptions {
  /** Also cache mounts and the cache's other files (the context stat cache, blob sources). */
  all?: boolean;
  /** Keep the most recently used build cache up to this many bytes (--keep-storage). */
  keepStorage?: number;
  /** Remove only what was last used more than this many milliseconds ago (--filter until=). */
  until?: number;
}

export interface PruneParts {
  store: Store;
  content: ContentStore;
  images: ImageStore;
  snapshots: Snapshots;
}

// Synchronous calls, as in snapshotter/diff.ts's walk: one thread-pool round trip per lstat made
// counting the gcc layer's snapshot (2,900 entries) take 0.3 s at the end of every build that made it.
export function sizeOf(p: string): number {
  let st;
  try {
    st = lstatSync(p);
  } catch {
    return 0; // gone meanwhile (another build's prune): nothing to count
  }
  if (!st.isDirectory()) return st.size;
  let total = 0;
  for (const name of readdirSync(p)) total += sizeOf(path.join(p, name));
  return total;
}

/** What tagged images keep: their blobs (manifests, configs, layers) and their layers' snapshots. */
async function liveSet({ content, images, snapshots }: PruneParts): Promise<{ blobs: Set<string>; snapshotDirs: Set<string> }> {
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

/** One thing prune may remove: a cache record (with the layers only it names), or a lone file or directory. */
interface Entry {
  path: string;
  size: number;
  lastUsed: number;
  /** A record's layers: snapshot directory names and blob paths. */
  layers?: Array<{ snapshot: string; blob?: string }>;
  /** A snapshot directory (removed layer.json first). */
  snapshot?: string;
}

interface Plan {
  entries: Entry[];
  /** Bytes of every snapshot and blob no image needs, by path; counted once however many records name them. */
  layerSizes: Map<string, number>;
  /** How many of the entries name each of those. */
  refs: Map<string, number>;
  /** The whole build cache, in bytes. */
  total: number;
  cacheMounts: number;
  liveBytes: { images: number; snapshots: number };
}

const mtimeOf = (p: string): Promise<number> => lstat(p).then((s) => s.mtimeMs, () => 0);

async function plan(parts: PruneParts, all: boolean): Promise<Plan> {
  const { store, snapshots } = parts;
  const live = await liveSet(parts);
  const layerSizes = new Map<string, number>();
  const liveBytes = { images: 0, snapshots: 0 };
  const lone = new Map<string, Entry>();
  for (const name of await readdir(store.snapshotsDir)) {
    const p = path.join(store.snapshotsDir, name);
    const size = sizeOf(p);
    if (live.snapshotDirs.has(name)) liveBytes.snapshots += size;
    else {
      layerSizes.set(p, size);
      lone.set(p, { path: p, size, lastUsed: await mtimeOf(p), snapshot: name });
    }
  }
  for (const name of await readdir(store.blobsDir)) {
    const p = path.join(store.blobsDir, name);
    const st = await lstat(p).catch(() => null);
    if (!st) continue;
    if (live.blobs.has(`sha256:${name}`)) liveBytes.images += st.size;
    else {
      layerSizes.set(p, st.size);
      lone.set(p, { path: p, size: st.size, lastUsed: st.mtimeMs });
    }
  }
  const entries: Entry[] = [];
  const refs = new Map<string, number>();
  for (const name of await readdir(store.cacheDir)) {
    const file = path.join(store.cacheDir, name);
    const st = await stat(file).catch(() => null);
    if (!st) continue;
    if (!/^[a-f0-9]{64}\.json$/.test(name)) {
      // The stat cache, blob sources, the cache's size estimate: hints that cost little, kept unless --all.
      if (all) entries.push({ path: file, size: st.size, lastUsed: st.mtimeMs });
      continue;
    }
    const rec = await readFile(file, 'utf8').then(parseCacheRecord, () => undefined);
    const layers: Array<{ snapshot: string; blob?: string }> = [];
    for (const l of rec?.chain ?? []) {
      // A pending layer's blob, if a build has sealed it since, is in its snapshot's layer.json.
      const now = await snapshots.current(l);
      layers.push({ snapshot: path.basename(snapshots.dir(l.chainID)), ...(now && isSealed(now) ? { blob: now.blob.digest.slice(7) } : {}) });
    }
    // A record whose layers a tagged image keeps costs nothing, and keeps a rebuild of that image cached.
    if (!all && rec && layers.every((l) => live.snapshotDirs.has(l.snapshot) && l.blob !== undefined && live.blobs.has(`sha256:${l.blob}`))) continue;
    const owned = layers.flatMap((l) => [path.join(store.snapshotsDir, l.snapshot), ...(l.blob !== undefined ? [path.join(store.blobsDir, l.blob)] : [])]).filter((p) => layerSizes.has(p));
    for (const p of owned) {
      refs.set(p, (refs.get(p) ?? 0) + 1);
      lone.delete(p);
    }
    entries.push({ path: file, size: st.size, lastUsed: st.mtimeMs, layers });
  }
  entries.push(...lone.values());
  // Per-context stat caches of contexts that are gone (with --all the whole cache/stat/ goes above).
  if (!all) for (const file of await staleStatCaches(store)) entries.push({ path: file, size: sizeOf(file), lastUsed: await mtimeOf(file) });
  let cacheMounts = 0;
  for (const name of await readdir(store.cacheMountsDir)) {
    const p = path.join(store.cacheMountsDir, name);
    const size = sizeOf(p);
    cacheMounts += size;
    if (all) entries.push({ path: p, size, lastUsed: await mtimeOf(p) });
  }
  const total = [...layerSizes.values()].reduce((a, b) => a + b, 0) + entries.filter((e) => !layerSizes.has(e.path)).reduce((a, e) => a + e.size, 0);
  return { entries, layerSizes, refs, total, cacheMounts, liveBytes };
}

export async function diskUsage(parts: PruneParts): Promise<SpaceReport> {
  const p = await plan(parts, false);
  return { images: p.liveBytes.images, snapshots: p.liveBytes.snapshots, buildCache: p.total, cacheMounts: p.cacheMounts };
}

/** Removes build cache, least recently used first, within the options. Returns bytes freed and the build cache left. */
export async function pruneCache(parts: PruneParts, opts: PruneOptions = {}): Promise<{ freed: number; remaining: number }> {
  const { store, snapshots } = parts;
  // A running build may be using any snapshot or blob it has not tagged yet.
  const busy = store.otherUsers();
  if (busy.length) throw new StoreBusyError(busy);
  return store.withLock('index', async () => {
    const p = await plan(parts, opts.all === true);
    let total = p.total;
    const removeLayer = async (file: string, snapshot?: string): Promise<void> => {
      total -= p.layerSizes.get(file) ?? 0;
      p.layerSizes.delete(file);
      if (snapshot !== undefined) await snapshots.remove(snapshot);
      else await unlink(file).catch(() => {});
    };
    const cutoff = opts.until !== undefined ? Date.now() - opts.until : Infinity;
    const candidates = p.entries.filter((e) => e.lastUsed < cutoff).sort((a, b) => a.lastUsed - b.lastUsed);
    for (const e of candidates) {
      if (opts.keepStorage !== undefined && total <= opts.keepStorage) break;
      if (p.layerSizes.has(e.path)) {
        await removeLayer(e.path, e.snapshot);
        continue;
      }
      // The record first: a record must never point at a snapshot or blob that is gone.
      await rm(e.path, { recursive: true, force: true });
      total -= e.size;
      for (const l of e.layers ?? []) {
        const files: Array<[string, string | undefined]> = [[path.join(store.snapshotsDir, l.snapshot), l.snapshot]];
        if (l.blob !== undefined) files.push([path.join(store.blobsDir, l.blob), undefined]);
        for (const [file, snapshot] of files) {
          if (!p.layerSizes.has(file)) continue;
          const left = (p.refs.get(file) ?? 1) - 1;
          p.refs.set(file, left);
          if (left === 0) await removeLayer(file, snapshot);
        }
      }
    }
    return { freed: p.total - total, remaining: total };
  });
}
