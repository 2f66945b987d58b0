// `tsbuild images`, `rmi`, `inspect`: the local image store.
import { ImageResolver } from '../builder/resolver.js';
import { ContentStore } from '../snapshotter/content.js';
import { ImageStore } from '../snapshotter/images.js';
import type { ImageConfig, Manifest } from '../common/oci.js';
import { familiarName, normalizeReference } from '../snapshotter/reference.js';
import { Store } from '../snapshotter/store.js';
import { UsageError } from './errors.js';

function open(root?: string): { store: Store; content: ContentStore; images: ImageStore } {
  const store = Store.open(root);
  return { store, content: new ContentStore(store), images: new ImageStore(store) };
}

function humanSize(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return `${n < 10 && i > 0 ? n.toFixed(2) : n < 100 && i > 0 ? n.toFixed(1) : Math.round(n)}${units[i]}`;
}

export async function listImages(root?: string): Promise<string> {
  const { store, content, images } = open(root);
  try {
    const rows = [['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE']];
    for (const img of await images.list()) {
      const name = familiarName(img.name);
      const colon = name.lastIndexOf(':');
      const manifest = await content.readJSON<Manifest>(img.descriptor.digest);
      const config = await content.readJSON<ImageConfig>(manifest.config.digest);
      const size = manifest.layers.reduce((a, l) => a + l.size, 0);
      rows.push([name.slice(0, colon), name.slice(colon + 1), manifest.config.digest.slice(7, 19), config.created ?? '', humanSize(size)]);
    }
    const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
    return rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c]!)).join('   ').trimEnd()).join('\n');
  } finally {
    await store.close();
  }
}

export async function removeImages(names: string[], root?: string): Promise<string[]> {
  const { store, images } = open(root);
  try {
    const out: string[] = [];
    for (const n of names) {
      if (!(await images.untag(normalizeReference(n)))) throw new UsageError(`No such image: ${n}`, 'see `tsbuild images`');
      out.push(`Untagged: ${n}`);
    }
    return out;
  } finally {
    await store.close();
  }
}

export async function inspectImage(name: string, root?: string): Promise<string> {
  const { store, content, images } = open(root);
  try {
    const resolver = new ImageResolver(content, images);
    const r = await resolver.resolve(name);
    const { config } = await resolver.manifest(r.source.manifestDigest);
    return JSON.stringify(config, null, 2);
  } finally {
    await store.close();
  }
}
