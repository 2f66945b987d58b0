// Snapshots: one directory per layer, named by its chain ID, so a layer applied or built once is
// shared by every image that has it. A snapshot's fs/ holds only that layer's changes, in overlay
// upper-dir form (whiteouts are 0/0 char devices, opaque dirs carry trusted.overlay.opaque, or
// user.overlay.opaque in a user namespace).
// A chain (bottom → top) is mounted as overlay lowerdirs, top-most first.
// A built layer that no export is known to need yet is committed pending (as BuildKit leaves a
// non-exported layer an unarchived directory): its snapshot is named by a fresh local ID, and its
// tar, diff ID and blob are made only when something exports it (seal). Chain IDs are local names:
// above a pending layer they no longer follow from diff IDs, and nothing outside the store sees them.
import { closeSync, openSync, readFileSync } from 'node:fs';
import { lstat, mkdir, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { applyLayer } from './apply.js';
import type { ContentStore } from './content.js';
import { diffUpperDir, type ReusableEntries } from './diff.js';
import { loadTarIndex, TarIndexWriter } from './tarindex.js';
import { openLayer, storeLayer, type StoreLayerOptions } from './layer.js';
import { sha256, type Descriptor, type Digest } from '../common/oci.js';
import type { Store } from './store.js';
import { captureChanges, materialize } from './copying.js';
import { MergedView } from './view.js';
import { getXattr } from '../native/fsops.js';
import { inUserNamespace } from '../native/userns.js';

/** A layer with its tar made: what images and exported caches list. */
export interface Layer {
  diffID: Digest;
  chainID: Digest;
  blob: Descriptor;
  /** Committed pending, sealed later: its chain ID is the local name it was committed under. */
  localID?: true;
}

/** A built layer whose tar is not made yet: its snapshot only, and how to make its tar (seal). */
export interface PendingLayer {
  chainID: Digest;
  pending: { sourceDateEpoch?: number };
}

export type ChainLayer = Layer | PendingLayer;

/** An immutable filesystem: its layers, bottom first. Empty = scratch. */
export type LayerChain = readonly ChainLayer[];

/** A chain every layer of which has its tar: what an image or an exported cache is made of. */
export type SealedChain = readonly Layer[];

export const isSealed = (l: ChainLayer): l is Layer => !('pending' in l);

/** A writable upper dir being prepared in the store's tmp area; becomes a snapshot on commit. */
export interface ActiveSnapshot {
  dir: string;
  upper: string;
  work: string;
  mountpoint: string;
  /** Mount targets the executor will have to create (missing in the rootfs), removed after the run. */
  stubs?: string[];
}

/** A COPY's commit: write the tar index (for the next run), and copy unchanged entries from the earlier snapshot's tar (`from`). */
export interface IndexedCommit {
  from?: Digest;
}

export interface CommitOptions extends StoreLayerOptions {
  sourceDateEpoch?: number;
  indexed?: IndexedCommit;
  /** Keep the snapshot only; its tar is made when an export needs it (seal). Not with `indexed`. */
  pending?: boolean;
}

// Overlay mounts at most this many lower dirs; deeper chains are flattened every FLATTEN_EVERY layers.
const MAX_LOWERS = 128;
const FLATTEN_EVERY = 64;

const exists = (p: string): Promise<boolean> => stat(p).then(() => true, () => false);

/** What the executor mounts over, besides RUN --mount targets. */
const MOUNT_STUBS = ['/etc/hosts', '/etc/resolv.conf', '/proc', '/sys', '/dev'];

function isOpaqueDir(p: string): boolean {
  return (getXattr(p, 'trusted.overlay.opaque') ?? getXattr(p, 'user.overlay.opaque'))?.toString() === 'y';
}

/** How a RUN sees its rootfs: an overlay of the chain, or (copying mode) a full copy. */
export type RootfsMount =
  | { kind: 'overlay'; lowerdirs: string[]; upperdir: string; workdir: string; mountpoint: string }
  | { kind: 'dir'; path: string };

export type SnapshotterMode = 'overlay' | 'copy';

/** overlay where the kernel has it (and allows it here); TSBUILD_SNAPSHOTTER=copy|overlay overrides. */
export function detectMode(release = os.release()): SnapshotterMode {
  const forced = process.env.TSBUILD_SNAPSHOTTER;
  if (forced === 'copy' || forced === 'overlay') return forced;
  // Kernels before 5.11 refuse overlayfs inside a user namespace (rootless): copy there.
  const [major = 0, minor = 0] = release.split('.').map((n) => parseInt(n, 10));
  if (inUserNamespace() && (major < 5 || (major === 5 && minor < 11))) return 'copy';
  try {
    return /\toverlay\n/.test(readFileSync('/proc/filesystems', 'utf8')) ? 'overlay' : 'copy';
  } catch {
    return 'copy';
  }
}

export function chainIDOf(parent: Digest | undefined, diffID: Digest): Digest {
  return parent ? sha256(`${parent} ${diffID}`) : diffID;
}

/** The chain of layers (bottom first) with their chain IDs, whether or not their snapshots exist yet. */
export function layerChain(layers: ReadonlyArray<{ blob: Descriptor; diffID: Digest }>): LayerChain {
  const chain: Layer[] = [];
  for (const { blob, diffID } of layers) chain.push({ diffID, chainID: chainIDOf(chain.at(-1)?.chainID, diffID), blob });
  return chain;
}

export class Snapshots {
  constructor(
    private readonly store: Store,
    private readonly content: ContentStore,
    readonly mode: SnapshotterMode = detectMode(),
  ) {}

  /** The rootfs to hand the executor for a container over `chain` writing into `a`. */
  async mount(chain: LayerChain, a: ActiveSnapshot, extraTargets: readonly string[] = []): Promise<RootfsMount> {
    const lowerdirs = this.lowerDirs(chain);
    const view = new MergedView(lowerdirs);
    // Every path the executor will have to create: a missing target and its missing parents.
    const stubs = new Set<string>();
    for (const t of [...MOUNT_STUBS, ...extraTargets]) {
      for (let p = path.posix.normalize(t); p !== '/' && !view.lookup(p); p = path.posix.dirname(p)) stubs.add(p);
    }
    a.stubs = [...stubs].sort((x, y) => y.length - x.length); // deepest first
    if (this.mode === 'overlay') return { kind: 'overlay', lowerdirs: await this.overlayLowerDirs(chain), upperdir: a.upper, workdir: a.work, mountpoint: a.mountpoint };
    materialize(view, a.mountpoint);
    return { kind: 'dir', path: a.mountpoint };
  }

  /**
   * After the container exited: remove the empty mount targets the executor had to create (they
   * are not the RUN's doing, and BuildKit leaves them out too); in copying mode, turn the rootfs copy
   * into upper-dir changes.
   */
  async unmount(chain: LayerChain, a: ActiveSnapshot): Promise<void> {
    const view = new MergedView(this.lowerDirs(chain));
    const writable = this.mode === 'overlay' ? a.upper : a.mountpoint;
    for (const stub of a.stubs ?? []) {
      const p = path.join(writable, stub);
      const st = await lstat(p).catch(() => null);
      if (!st || (st.isFile() && st.size > 0) || (st.isDirectory() && (await readdir(p)).length > 0)) continue;
      await rm(p, { recursive: true });
      // The stub's parent was copied up only to hold it: drop it if nothing else changed there.
      const parent = path.posix.dirname(stub);
      if (parent === '/') continue;
      const up = await lstat(path.join(a.upper, parent)).catch(() => null);
      const low = view.lookup(parent)?.stat;
      if (this.mode === 'overlay' && up?.isDirectory() && low && (await readdir(path.join(a.upper, parent))).length === 0 && up.mode === low.mode && up.uid === low.uid && up.gid === low.gid && !isOpaqueDir(path.join(a.upper, parent))) {
        await rm(path.join(a.upper, parent), { recursive: true });
      }
    }
    if (this.mode === 'copy') captureChanges(view, a.mountpoint, a.upper);
  }

  /** Short names keep overlay's lowerdir option (one page) able to hold deep chains. */
  dir(chainID: Digest): string {
    return path.join(this.store.snapshotsDir, chainID.slice(7, 23));
  }

  fsDir(chainID: Digest): string {
    return path.join(this.dir(chainID), 'fs');
  }

  /** The chain's directories, top-most first, as overlay wants its lowerdirs. */
  lowerDirs(chain: LayerChain): string[] {
    return chain.map((l) => this.fsDir(l.chainID)).reverse();
  }

  /**
   * The directories overlay mounts for `chain`, top-most first. The kernel stacks at most 500 lowers
   * and the option string is one page (about 200 of our names), so a deep chain is its top layers
   * over one flattened copy of the rest (DESIGN §5): at most MAX_LOWERS directories.
   */
  async overlayLowerDirs(chain: LayerChain): Promise<string[]> {
    if (chain.length <= MAX_LOWERS) return this.lowerDirs(chain);
    const base = chain.length - (((chain.length - 1) % FLATTEN_EVERY) + 1);
    return [...this.lowerDirs(chain.slice(base)), await this.flattened(chain.slice(0, base))];
  }

  /**
   * A plain tree with the merged contents of `chain` (a multiple of FLATTEN_EVERY layers), made once
   * and kept in the snapshot of its top layer, so it goes when that snapshot goes. Each is built from
   * the one FLATTEN_EVERY layers below it, so a chain of n layers costs n / FLATTEN_EVERY copies in all.
   */
  private async flattened(chain: LayerChain): Promise<string> {
    const dir = path.join(this.dir(chain.at(-1)!.chainID), 'flat');
    if (await exists(dir)) return dir;
    const below = chain.length - FLATTEN_EVERY;
    const sources = below > MAX_LOWERS - FLATTEN_EVERY
      ? [...this.lowerDirs(chain.slice(below)), await this.flattened(chain.slice(0, below))]
      : this.lowerDirs(chain);
    const tmp = this.store.tmpPath('flat');
    await mkdir(tmp, { mode: 0o755 });
    try {
      materialize(new MergedView(sources), tmp);
      await rename(tmp, dir);
    } catch (e) {
      await rm(tmp, { recursive: true, force: true });
      if (await exists(dir)) return dir; // another build on this store made it first
      throw e;
    }
    return dir;
  }

  async has(chainID: Digest): Promise<boolean> {
    return stat(path.join(this.dir(chainID), 'layer.json')).then(() => true, () => false);
  }

  async prepare(): Promise<ActiveSnapshot> {
    const dir = this.store.tmpPath('snap');
    const a = { dir, upper: path.join(dir, 'fs'), work: path.join(dir, 'work'), mountpoint: path.join(dir, 'rootfs') };
    await mkdir(a.upper, { recursive: true, mode: 0o755 });
    await mkdir(a.work);
    await mkdir(a.mountpoint);
    return a;
  }

  async discard(a: ActiveSnapshot): Promise<void> {
    await rm(a.dir, { recursive: true, force: true });
  }

  /**
   * Turns an active upper dir into a layer on top of `parent`. Returns `parent` unchanged when
   * nothing changed; otherwise the layer's tar goes into the content store (uncompressed) and the upper dir
   * becomes the snapshot for the new chain ID. `pending`: the upper dir becomes a snapshot under a
   * fresh name, and no tar is made (seal makes it).
   */
  async commit(a: ActiveSnapshot, parent: LayerChain, opts: CommitOptions = {}): Promise<LayerChain> {
    const epoch = opts.sourceDateEpoch;
    if (opts.pending && !opts.indexed) {
      // A fresh name: two runs of one step (--no-cache) make two snapshots, as they would two layers.
      const layer: PendingLayer = { chainID: sha256(randomBytes(32)), pending: epoch === undefined ? {} : { sourceDateEpoch: epoch } };
      await this.adopt(a, layer);
      return [...parent, layer];
    }
    const index = opts.indexed ? new TarIndexWriter() : undefined;
    const earlier = opts.indexed?.from ? await this.earlierTar(opts.indexed.from, epoch) : undefined;
    let stored;
    try {
      const tar = diffUpperDir(a.upper, { sourceDateEpoch: epoch, reuse: earlier, placed: index?.placed });
      stored = await storeLayer(this.store, this.content, tar, opts);
    } finally {
      if (earlier) closeSync(earlier.fd);
    }
    if (!stored) {
      await this.discard(a);
      return parent;
    }
    if (index) await index.save(a.dir, stored.diffID, epoch);
    const layer: Layer = { diffID: stored.diffID, chainID: chainIDOf(parent.at(-1)?.chainID, stored.diffID), blob: stored.blob };
    await this.adopt(a, layer);
    return [...parent, layer];
  }

  /** The earlier snapshot's layer tar, open, and its index: what an incremental COPY's layer copies unchanged entries from. */
  private async earlierTar(chainID: Digest, epoch: number | undefined): Promise<{ fd: number; entries: ReusableEntries } | undefined> {
    const index = await loadTarIndex(this.dir(chainID), epoch);
    if (!index) return undefined;
    try {
      // Opened once: a prune that removes the blob meanwhile leaves this build its bytes.
      return { fd: openSync(this.content.path(index.blob), 'r'), entries: index.entries };
    } catch {
      return undefined;
    }
  }

  /**
   * The chain with every pending layer's tar made (once: a layer sealed earlier, by this build or
   * another, is read back from its layer.json, its tar made again only if prune removed the blob).
   */
  async seal(chain: LayerChain): Promise<SealedChain> {
    const out: Layer[] = [];
    for (const l of chain) out.push(await this.sealed(l));
    return out;
  }

  /** The layer as its snapshot now records it: sealed, if a build has sealed it meanwhile. */
  async current(l: ChainLayer): Promise<ChainLayer | undefined> {
    if (isSealed(l)) return l;
    return this.readLayer(l.chainID);
  }

  /** Seals in progress in this process, by chain ID: records sharing a layer wait for one seal, not for its lock. */
  private readonly sealing = new Map<Digest, Promise<Layer>>();

  private sealed(l: ChainLayer): Promise<Layer> {
    if (isSealed(l)) return Promise.resolve(l);
    let p = this.sealing.get(l.chainID);
    if (!p) {
      p = this.sealOnce(l).finally(() => this.sealing.delete(l.chainID));
      this.sealing.set(l.chainID, p);
    }
    return p;
  }

  private async sealOnce(l: PendingLayer): Promise<Layer> {
    return this.store.withLock(`snapshot-${l.chainID.slice(7, 23)}`, async () => {
      const now = await this.readLayer(l.chainID);
      if (!now) throw new Error(`snapshot ${l.chainID} of a cached step is gone`);
      if (isSealed(now) && (await this.content.has(now.blob.digest))) return now;
      // The epoch of the build that made it, which a diff made at commit would have used.
      const epoch = isSealed(now) ? l.pending.sourceDateEpoch : now.pending.sourceDateEpoch;
      const stored = await storeLayer(this.store, this.content, diffUpperDir(this.fsDir(l.chainID), { sourceDateEpoch: epoch }), { keepEmpty: true });
      const layer: Layer = { diffID: stored!.diffID, chainID: l.chainID, blob: stored!.blob, localID: true };
      await this.store.writeFileAtomic(path.join(this.dir(l.chainID), 'layer.json'), JSON.stringify(layer));
      return layer;
    });
  }

  /** Ensures the snapshot for `blob` on top of `parent` exists, applying the layer if needed. */
  async importLayer(parent: LayerChain, blob: Descriptor, diffID: Digest, image?: string): Promise<LayerChain> {
    const layer: Layer = { diffID, chainID: chainIDOf(parent.at(-1)?.chainID, diffID), blob };
    if (await this.has(layer.chainID)) return [...parent, layer];
    await this.content.ensure(blob.digest);
    const a = await this.prepare();
    try {
      const { tar, verify } = openLayer(this.content, blob, diffID);
      const what = `layer ${blob.digest}${image === undefined ? '' : ` of image ${image}`}`;
      await applyLayer(tar, a.upper, { whiteouts: 'overlay', source: { what, hint: 'the image has a damaged or hostile layer: pull it again, or use an image from a trusted source' } });
      verify();
      await this.adopt(a, layer);
    } catch (e) {
      await this.discard(a);
      throw e;
    }
    return [...parent, layer];
  }

  /** Ensures snapshots for an image's layers, bottom first, and returns the chain. */
  async importImage(layers: readonly Descriptor[], diffIDs: readonly Digest[], image?: string): Promise<LayerChain> {
    if (layers.length !== diffIDs.length) {
      throw new Error(`image has ${layers.length} layers but ${diffIDs.length} diff_ids in its config`);
    }
    let chain: LayerChain = [];
    for (const [i, blob] of layers.entries()) chain = await this.importLayer(chain, blob, diffIDs[i]!, image);
    return chain;
  }

  /** Moves an upper dir into place; another build may have produced the same layer first. */
  private async adopt(a: ActiveSnapshot, layer: ChainLayer): Promise<void> {
    await this.store.withLock(`snapshot-${layer.chainID.slice(7, 23)}`, async () => {
      if (await this.has(layer.chainID)) {
        await this.discard(a);
        return;
      }
      const dest = this.dir(layer.chainID);
      await rm(dest, { recursive: true, force: true }); // a half-adopted dir from a crash
      await rm(a.work, { recursive: true, force: true });
      await rm(a.mountpoint, { recursive: true, force: true });
      await rename(a.dir, dest);
      // layer.json written last marks the snapshot complete.
      await this.store.writeFileAtomic(path.join(dest, 'layer.json'), JSON.stringify(layer));
    });
  }

  /**
   * Removes a snapshot directory (by name, as under snapshots/). layer.json goes first: a removal
   * killed midway leaves an incomplete snapshot, which nothing uses (has() is false, adopt replaces
   * it, fsck removes it), never a complete-looking one with half its files.
   */
  async remove(name: string): Promise<void> {
    const dir = path.join(this.store.snapshotsDir, path.basename(name));
    await rm(path.join(dir, 'layer.json'), { force: true });
    await rm(dir, { recursive: true, force: true });
  }

  async readLayer(chainID: Digest): Promise<ChainLayer | undefined> {
    try {
      return JSON.parse(await readFile(path.join(this.dir(chainID), 'layer.json'), 'utf8')) as ChainLayer;
    } catch {
      return undefined;
    }
  }
}
