// `fsck`: checks the store against itself. Every blob is hashed (streamed) against its name; every
// tagged image's manifest, config and layers are read with the validating parsers; every snapshot
// must be complete (layer.json naming its own directory, an fs/ dir) and agree with the chains that
// images and cache records compute for it; every cache record must parse and name layers that are
// here. With `repair`, what is corrupt goes, and so does what depends on it (a record whose snapshot
// or blob is gone, a tag whose manifest or layer is gone), in prune's order: records and tags first,
// so nothing ever points at what was removed.
import { createReadStream } from 'node:fs';
import { createHash } from 'node:crypto';
import { readdir, readFile, rm, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { isDigest, type Descriptor, type Digest } from '../common/oci.js';
import { parseImageConfig, parseImageDocument, parseIndex } from '../common/ociparse.js';
import { ContainerdNameAnnotation } from '../snapshotter/images.js';
import type { BlobSources } from '../snapshotter/registry/sources.js';
import { chainIDOf, isSealed, type ChainLayer, type Snapshots } from '../snapshotter/snapshots.js';
import type { Store } from '../snapshotter/store.js';
import { layerShaped, parseCacheRecord } from './cache.js';
import { StoreBusyError } from './prune.js';

export type FsckArea = 'blob' | 'image' | 'snapshot' | 'cache' | 'index';

export interface FsckProblem {
  area: FsckArea;
  /** The blob digest, image name, snapshot directory or cache file. */
  id: string;
  problem: string;
  /** With --repair: what was done about it. */
  repaired?: string;
}

export interface FsckReport {
  checked: { blobs: number; images: number; snapshots: number; cacheRecords: number };
  problems: FsckProblem[];
  repaired: boolean;
}

interface Parts {
  store: Store;
  snapshots: Snapshots;
  sources: BlobSources;
}

const HEX64 = /^[a-f0-9]{64}$/;

async function hashFile(file: string): Promise<{ digest: Digest; size: number }> {
  const h = createHash('sha256');
  let size = 0;
  await pipeline(createReadStream(file), async function* (chunks: AsyncIterable<Buffer>) {
    for await (const c of chunks) {
      h.update(c);
      size += c.length;
    }
  });
  return { digest: `sha256:${h.digest('hex')}`, size };
}

class Checker {
  readonly problems: FsckProblem[] = [];
  /** Blob digest → its size, for the blobs that match their name. */
  private readonly goodBlobs = new Map<Digest, number>();
  private readonly badBlobs = new Map<string, { size: number }>();
  /** Snapshot directory name → its layer, for the complete ones. */
  private readonly goodSnapshots = new Map<string, ChainLayer>();
  private readonly badSnapshots = new Set<string>();
  /** Blob digest → the largest size a descriptor gives it (to tell a truncated blob). */
  private readonly expectedSizes = new Map<Digest, number>();
  readonly checked = { blobs: 0, images: 0, snapshots: 0, cacheRecords: 0 };

  constructor(private readonly parts: Parts) {}

  private get store(): Store {
    return this.parts.store;
  }

  private note(area: FsckArea, id: string, problem: string): FsckProblem {
    const p = { area, id, problem };
    this.problems.push(p);
    return p;
  }

  async blobs(): Promise<void> {
    for (const name of await readdir(this.store.blobsDir)) {
      this.checked.blobs++;
      const file = path.join(this.store.blobsDir, name);
      const st = await stat(file).catch(() => null);
      if (!HEX64.test(name) || !st?.isFile()) {
        this.badBlobs.set(name, { size: st?.size ?? 0 });
        continue;
      }
      const got = await hashFile(file);
      if (got.digest === `sha256:${name}`) this.goodBlobs.set(got.digest, got.size);
      else this.badBlobs.set(name, { size: got.size });
    }
  }

  private blobHere(d: Digest): boolean {
    return this.goodBlobs.has(d);
  }

  /** Here, or fetched on first use from a registry that holds it (a lazily pulled or imported layer). */
  private blobAvailable(d: Digest): boolean {
    return this.blobHere(d) || this.parts.sources.holders(d).length > 0;
  }

  private expect(d: Descriptor): void {
    this.expectedSizes.set(d.digest, Math.max(d.size, this.expectedSizes.get(d.digest) ?? 0));
  }

  async snapshots(): Promise<void> {
    for (const name of await readdir(this.store.snapshotsDir)) {
      this.checked.snapshots++;
      const dir = path.join(this.store.snapshotsDir, name);
      let layer: unknown;
      try {
        layer = JSON.parse(await readFile(path.join(dir, 'layer.json'), 'utf8'));
      } catch (e) {
        const missing = (e as NodeJS.ErrnoException).code === 'ENOENT';
        this.note('snapshot', name, missing ? 'incomplete: no layer.json (an interrupted commit or prune)' : 'layer.json is not valid JSON');
        this.badSnapshots.add(name);
        continue;
      }
      if (!layerShaped(layer) || path.basename(this.parts.snapshots.dir(layer.chainID)) !== name) {
        this.note('snapshot', name, 'layer.json does not name this snapshot (chain ID and directory disagree)');
        this.badSnapshots.add(name);
      } else if (!(await stat(path.join(dir, 'fs')).then((s) => s.isDirectory(), () => false))) {
        this.note('snapshot', name, 'its fs/ directory is missing');
        this.badSnapshots.add(name);
      } else {
        this.goodSnapshots.set(name, layer);
      }
    }
  }

  /** Whether each chain ID follows from the diffIDs below it and its snapshot (if any) agrees; else why not. */
  private chainProblem(layers: ReadonlyArray<{ diffID: Digest; chainID?: Digest } | ChainLayer>, needSnapshots: boolean): string | undefined {
    let chain: Digest | undefined;
    for (const [i, l] of layers.entries()) {
      const diffID = 'diffID' in l ? l.diffID : undefined;
      // A layer committed pending keeps the name it was committed under; the others follow from the layers below.
      const own = 'chainID' in l && l.chainID !== undefined && (diffID === undefined || ('localID' in l && l.localID === true));
      const expected = own ? l.chainID! : chainIDOf(chain, diffID!);
      if ('chainID' in l && l.chainID !== undefined && l.chainID !== expected) return `layer ${i + 1}'s chain ID ${l.chainID} does not follow from the diff IDs below it`;
      chain = expected;
      const name = path.basename(this.parts.snapshots.dir(chain));
      const snap = this.goodSnapshots.get(name);
      const snapDiffID = snap && isSealed(snap) ? snap.diffID : undefined;
      // Its directory is named for the chain ID it holds; another layer there is the snapshot's fault
      // (a pending snapshot may be sealed since its record was written, not the other way round).
      if (snap && (snap.chainID !== chain || (diffID !== undefined && snapDiffID !== diffID))) {
        this.note('snapshot', name, `holds another layer (${snapDiffID ?? 'pending'}) than its chain ID's (${diffID})`);
        this.goodSnapshots.delete(name);
        this.badSnapshots.add(name);
      }
      if (needSnapshots && !this.goodSnapshots.has(name)) return `snapshot ${name} of layer ${i + 1} is ${this.badSnapshots.has(name) ? 'damaged' : 'missing'}`;
    }
    return undefined;
  }

  /** Why a manifest or index (recursively) is unusable, or undefined. */
  private async imageProblem(d: Descriptor, depth = 0): Promise<string | undefined> {
    this.expect(d);
    if (!this.blobHere(d.digest)) return `${depth ? 'child ' : ''}manifest ${d.digest} is ${this.badBlobs.has(d.digest.slice(7)) ? 'corrupt' : 'missing'}`;
    let doc;
    try {
      doc = parseImageDocument(await readFile(path.join(this.store.blobsDir, d.digest.slice(7))), `manifest ${d.digest}`);
    } catch (e) {
      return (e as Error).message;
    }
    if (doc.kind === 'index') {
      for (const m of doc.index.manifests) {
        // An index may list platforms never pulled; only those present must be whole.
        if (!this.blobHere(m.digest) && !this.badBlobs.has(m.digest.slice(7))) continue;
        const p = await this.imageProblem(m, depth + 1);
        if (p) return p;
      }
      return undefined;
    }
    const { manifest } = doc;
    this.expect(manifest.config);
    if (!this.blobHere(manifest.config.digest)) return `config ${manifest.config.digest} is ${this.badBlobs.has(manifest.config.digest.slice(7)) ? 'corrupt' : 'missing'}`;
    let config;
    try {
      config = parseImageConfig(await readFile(path.join(this.store.blobsDir, manifest.config.digest.slice(7))), `config ${manifest.config.digest}`);
    } catch (e) {
      return (e as Error).message;
    }
    for (const l of manifest.layers) {
      this.expect(l);
      if (!this.blobAvailable(l.digest)) return `layer ${l.digest} is ${this.badBlobs.has(l.digest.slice(7)) ? 'corrupt' : 'missing'} and no registry is known to hold it`;
    }
    if (config.rootfs.diff_ids.length !== manifest.layers.length) return `the manifest has ${manifest.layers.length} layers but its config ${config.rootfs.diff_ids.length} diff IDs`;
    return this.chainProblem(config.rootfs.diff_ids.map((diffID) => ({ diffID })), false);
  }

  /** The index.json entries, with those that are unusable dropped on repair. */
  async images(repair: boolean): Promise<void> {
    const indexPath = path.join(this.store.root, 'index.json');
    const raw = await readFile(indexPath, 'utf8');
    let entries: Descriptor[];
    let rewrite = false;
    try {
      entries = parseIndex(raw, indexPath).manifests;
    } catch (e) {
      const p = this.note('index', 'index.json', (e as Error).message);
      entries = salvageIndex(raw);
      rewrite = true;
      if (repair) p.repaired = `rewritten with the ${entries.length} valid entries`;
    }
    const kept: Descriptor[] = [];
    for (const d of entries) {
      this.checked.images++;
      const name = d.annotations?.[ContainerdNameAnnotation] ?? d.digest;
      const why = await this.imageProblem(d);
      if (!why) {
        kept.push(d);
        continue;
      }
      const p = this.note('image', name, why);
      rewrite = true;
      if (repair) p.repaired = 'tag removed';
    }
    if (repair && rewrite) {
      const index = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: kept };
      await this.store.writeFileAtomic(indexPath, JSON.stringify(index, null, 2));
    }
  }

  /** Cache records (removed on repair when unusable) and the cache's other files. */
  async cache(repair: boolean): Promise<void> {
    for (const name of await readdir(this.store.cacheDir)) {
      const file = path.join(this.store.cacheDir, name);
      if (!(await stat(file).then((s) => s.isFile(), () => false))) continue;
      let why: string | undefined;
      if (HEX64.test(name.replace(/\.json$/, ''))) {
        this.checked.cacheRecords++;
        why = await this.recordProblem(file);
      } else if (name === 'blob-sources.json') {
        why = await readFile(file, 'utf8').then(blobSourcesProblem, () => 'unreadable');
      } else if (name.endsWith('.json')) {
        // The stat cache, the cache's size estimate: only hints, rebuilt from nothing when gone.
        why = await readFile(file, 'utf8').then((s) => (JSON.parse(s), undefined), () => 'not valid JSON');
      }
      if (!why) continue;
      const p = this.note('cache', name, why);
      if (repair) {
        await unlink(file).catch(() => {});
        p.repaired = 'removed';
      }
    }
  }

  private async recordProblem(file: string): Promise<string | undefined> {
    let rec;
    try {
      rec = parseCacheRecord(await readFile(file, 'utf8'));
    } catch (e) {
      return (e as Error).message;
    }
    for (const [i, l] of rec.chain.entries()) {
      if (!isSealed(l)) continue; // its snapshot is all it has (checked below)
      this.expect(l.blob);
      if (!this.blobHere(l.blob.digest)) return `layer ${i + 1}'s blob ${l.blob.digest} is ${this.badBlobs.has(l.blob.digest.slice(7)) ? 'corrupt' : 'missing'}`;
    }
    return this.chainProblem(rec.chain, true);
  }

  /** Removes the damaged snapshots and blobs (after whatever pointed at them). */
  async removeDamaged(repair: boolean): Promise<void> {
    for (const name of this.badSnapshots) {
      const p = this.problems.find((x) => x.area === 'snapshot' && x.id === name)!;
      if (!repair) continue;
      await this.parts.snapshots.remove(name);
      p.repaired = 'removed';
    }
    for (const [name, { size }] of this.badBlobs) {
      const want = this.expectedSizes.get(`sha256:${name}`);
      const what = !HEX64.test(name) ? 'not a blob (its name is no sha256 digest)' : want !== undefined && size < want ? `truncated (${size} of ${want} bytes)` : 'its content does not match its digest';
      const p = this.note('blob', `sha256:${name}`, what);
      if (!repair) continue;
      await rm(path.join(this.store.blobsDir, name), { recursive: true, force: true });
      p.repaired = 'removed';
    }
  }
}

/** Where lazily fetched blobs come from: digest → ["host/repository", …]. */
function blobSourcesProblem(text: string): string | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return 'not valid JSON';
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'not an object of digests';
  for (const [digest, repos] of Object.entries(v)) {
    if (!isDigest(digest) || !Array.isArray(repos) || repos.some((r) => typeof r !== 'string' || !r.includes('/'))) return `entry ${digest.slice(0, 80)} is not a digest with a list of host/repository`;
  }
  return undefined;
}

/** The entries of a damaged index.json that still parse as descriptors. */
function salvageIndex(raw: string): Descriptor[] {
  try {
    const doc = JSON.parse(raw) as { manifests?: unknown };
    if (!Array.isArray(doc.manifests)) return [];
    return doc.manifests.filter((m): m is Descriptor => {
      try {
        parseIndex(JSON.stringify({ schemaVersion: 2, manifests: [m] }), 'index.json');
        return true;
      } catch {
        return false;
      }
    });
  } catch {
    return [];
  }
}

const ORDER: readonly FsckArea[] = ['index', 'image', 'cache', 'snapshot', 'blob'];

export async function fsck(parts: Parts, opts: { repair?: boolean } = {}): Promise<FsckReport> {
  // A running build's half-made snapshots and blobs would look damaged, and repair must not race it.
  const busy = parts.store.otherUsers();
  if (busy.length) throw new StoreBusyError(busy);
  const repair = opts.repair === true;
  return parts.store.withLock('index', async () => {
    const c = new Checker(parts);
    await c.blobs();
    await c.snapshots();
    await c.images(repair);
    await c.cache(repair);
    await c.removeDamaged(repair);
    const problems = [...c.problems].sort((a, b) => ORDER.indexOf(a.area) - ORDER.indexOf(b.area));
    return { checked: c.checked, problems, repaired: repair };
  });
}
