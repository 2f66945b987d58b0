// A second opinion on the layers tsbuild writes: every layer blob of an OCI layout (a store root or an
// exported archive) is read through tar-stream, an independent tar parser, and through our own reader
// (snapshotter/tar.ts); both must see the same entries: name, type, size, mode, owners, times, link
// targets, device numbers, xattr names and content.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, mkdtempSync, openSync, readdirSync, readSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import tarStream from 'tar-stream';
import { readTar } from '../../snapshotter/tarread.js';

/** An entry as a reader saw it. */
export interface LayerEntry {
  name: string;
  type: string;
  size: number;
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  linkname: string;
  dev: string;
  xattrs: string[];
  sha256: string;
}

export interface LayerComparison {
  /** How many layer blobs were read both ways. */
  layers: number;
  /** One line per layer the readers disagree on (empty when they agree). */
  differences: string[];
  /** Every entry of every layer, as tar-stream saw it: for checking the layers hold what a test meant them to. */
  entries: LayerEntry[];
}

const TYPES: Record<string, string> = {
  file: 'file',
  'contiguous-file': 'file',
  directory: 'dir',
  symlink: 'symlink',
  link: 'hardlink',
  'character-device': 'char',
  'block-device': 'block',
  fifo: 'fifo',
};

async function sha256(body: AsyncIterable<unknown>): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of body) h.update(chunk as Buffer);
  return h.digest('hex');
}

async function viaTarStream(tar: Readable): Promise<LayerEntry[]> {
  const extract = tarStream.extract();
  const seen: LayerEntry[] = [];
  const reading = (async () => {
    for await (const entry of extract) {
      const h = entry.header;
      const pax = (h as { pax?: Record<string, string> }).pax ?? {};
      const type = TYPES[h.type ?? ''] ?? String(h.type);
      seen.push({
        name: h.name.replace(/\/+$/, ''),
        type,
        size: h.size ?? 0,
        mode: (h.mode ?? 0) & 0o7777,
        uid: h.uid ?? 0,
        gid: h.gid ?? 0,
        mtime: Math.floor((h.mtime?.getTime() ?? 0) / 1000),
        linkname: h.linkname ?? '',
        dev: type === 'char' || type === 'block' ? `${h.devmajor}:${h.devminor}` : '',
        xattrs: Object.keys(pax).filter((k) => k.startsWith('SCHILY.xattr.')).map((k) => k.slice('SCHILY.xattr.'.length)).sort(),
        sha256: await sha256(entry),
      });
    }
  })();
  await Promise.all([pipeline(tar, extract), reading]);
  return seen;
}

async function viaOurReader(tar: Readable): Promise<LayerEntry[]> {
  const seen: LayerEntry[] = [];
  for await (const { entry: e, body } of readTar(tar)) {
    seen.push({
      name: e.path,
      type: e.type,
      size: e.size,
      mode: e.mode & 0o7777,
      uid: e.uid,
      gid: e.gid,
      mtime: Math.floor(e.mtime),
      linkname: e.linkname ?? '',
      dev: e.type === 'char' || e.type === 'block' ? `${e.devmajor}:${e.devminor}` : '',
      xattrs: [...(e.xattrs?.keys() ?? [])].sort(),
      sha256: await sha256(body),
    });
  }
  return seen;
}

function head(file: string, n: number): Buffer {
  const fd = openSync(file, 'r');
  try {
    const b = Buffer.alloc(n);
    return b.subarray(0, readSync(fd, b, 0, n, 0));
  } finally {
    closeSync(fd);
  }
}

/** The blob as an uncompressed tar stream, or undefined when it is not a layer (a manifest, config or index). */
function openLayer(blob: string): (() => Readable) | undefined {
  const magic = head(blob, 512);
  if (magic[0] === 0x1f && magic[1] === 0x8b) return () => createReadStream(blob).pipe(createGunzip());
  if (magic.subarray(257, 262).toString() === 'ustar') return () => createReadStream(blob);
  if (magic[0] === 0x7b) return undefined; // '{': JSON
  throw new Error(`${blob}: neither JSON nor a tar or gzip layer`);
}

/** Blobs are content-addressed: each is compared once per process (the base layer is in every store). */
const compared = new Map<string, { entries: LayerEntry[]; difference?: string }>();

async function compareBlob(name: string, open: () => Readable): Promise<{ entries: LayerEntry[]; difference?: string }> {
  const known = compared.get(name);
  if (known) return known;
  const [theirs, ours] = await Promise.all([viaTarStream(open()), viaOurReader(open())]);
  const at = Array.from({ length: Math.max(theirs.length, ours.length) }, (_, i) => i).find((i) => JSON.stringify(theirs[i]) !== JSON.stringify(ours[i]));
  const result = {
    entries: theirs,
    ...(at === undefined ? {} : { difference: `sha256:${name} entry ${at} of ${theirs.length}/${ours.length}: tar-stream ${JSON.stringify(theirs[at])}, ours ${JSON.stringify(ours[at])}` }),
  };
  compared.set(name, result);
  return result;
}

/** Compares the readers on every layer blob under `layout`/blobs/sha256. */
export async function compareLayerReaders(layout: string): Promise<LayerComparison> {
  const dir = path.join(layout, 'blobs', 'sha256');
  const out: LayerComparison = { layers: 0, differences: [], entries: [] };
  for (const name of readdirSync(dir).sort()) {
    const open = openLayer(path.join(dir, name));
    if (!open) continue;
    out.layers++;
    const { entries, difference } = await compareBlob(name, open);
    out.entries.push(...entries);
    if (difference) out.differences.push(difference);
  }
  return out;
}

/** The same for an OCI archive (`--output type=oci`), unpacked to a temporary directory. */
export async function compareArchiveLayerReaders(archive: string): Promise<LayerComparison> {
  const layout = mkdtempSync(path.join(os.tmpdir(), 'tsbuild-layers-'));
  try {
    execFileSync('tar', ['-xf', archive, '-C', layout]);
    return await compareLayerReaders(layout);
  } finally {
    rmSync(layout, { recursive: true, force: true });
  }
}
