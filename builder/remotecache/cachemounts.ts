// RUN --mount=type=cache contents travelling with the exported cache (--cache-to …,cache-mounts=true),
// so a fresh CI runner starts with the package caches of the last run. Each mount the build's RUNs
// use is one layer (the tar of its directory), keyed as docs/cache-format.md says. Importing is lazy:
// a mount's layer is fetched and unpacked only when a RUN that uses it runs on a store that does not
// have that mount yet. Exporting reads a mount's directory only if a RUN may have changed it since it
// was last exported or imported; otherwise the layer it matched is reused, so an unchanged build
// exports without reading, compressing or uploading anything again.
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { isDigest, type Descriptor } from '../../common/oci.js';
import { applyLayer } from '../../snapshotter/apply.js';
import type { ContentStore } from '../../snapshotter/content.js';
import { diffUpperDir } from '../../snapshotter/diff.js';
import { openLayer, storeLayer } from '../../snapshotter/layer.js';
import type { StoreParts } from '../engine.js';
import type { Vertex } from '../graph.js';
import { CACHE_MOUNT_LAYER_FILE, cacheMountDir, type CacheMount, type CacheMountSeeder } from '../mounts.js';
import { step, type ProgressSink } from '../progress.js';
import { cacheMountKey, type CacheMountKey, type CacheMountLayer } from './format.js';
import type { ImportedCache } from './import.js';

type Layer = CacheMountLayer['layer'];

function keyOf(m: CacheMount): CacheMountKey {
  return { id: m.id, sharing: m.sharing, uid: m.uid, gid: m.gid, mode: m.mode };
}

/** The cache mounts (by key, each once) of every RUN the roots reach: the steps the build solved. */
export function usedCacheMounts(roots: readonly Vertex[]): CacheMountKey[] {
  const seen = new Set<Vertex>();
  const found = new Map<string, CacheMountKey>();
  const stack = [...roots];
  while (stack.length) {
    const v = stack.pop()!;
    if (seen.has(v)) continue;
    seen.add(v);
    if (v.op.kind === 'exec') for (const m of v.op.mounts ?? []) if (m.type === 'cache') found.set(cacheMountKey(keyOf(m)), keyOf(m));
    stack.push(...v.inputs);
  }
  return [...found.values()];
}

async function readLayerFile(dir: string): Promise<Layer | undefined> {
  try {
    const l = JSON.parse(await readFile(path.join(dir, CACHE_MOUNT_LAYER_FILE), 'utf8')) as Partial<Layer>;
    if (l && isDigest(String(l.diffID)) && l.blob && isDigest(String(l.blob.digest)) && typeof l.blob.mediaType === 'string' && Number.isInteger(l.blob.size)) return l as Layer;
  } catch {
    // none, or damaged: the directory is read again
  }
  return undefined;
}

function writeLayerFile(dir: string, layer: Layer): Promise<void> {
  const blob: Descriptor = { mediaType: layer.blob.mediaType, digest: layer.blob.digest, size: layer.blob.size };
  return writeFile(path.join(dir, CACHE_MOUNT_LAYER_FILE), JSON.stringify({ diffID: layer.diffID, blob }));
}

/** Unpacks an imported cache mount into a new mount directory (dir/data), when the import has it. */
export function cacheMountSeeder(content: ContentStore, imported: ImportedCache): CacheMountSeeder {
  return async (m, dir) => {
    const found = imported.mount(keyOf(m));
    if (!found) return false;
    await content.ensure(found.layer.blob.digest);
    const { tar, verify } = openLayer(content, found.layer.blob, found.layer.diffID);
    await applyLayer(tar, path.join(dir, 'data'), { whiteouts: 'delete', source: { what: `cache mount "${m.id}" of the imported cache`, hint: 'the next --cache-to …,cache-mounts=true rewrites it' } });
    verify();
    await writeLayerFile(dir, found.layer);
    return true;
  };
}

/**
 * The layers of the cache mounts `keys` names, for --cache-to …,cache-mounts=true: a mount this
 * store has is its directory's layer (read again only when a RUN may have changed it); a mount it
 * does not have but the imported cache carries is passed on as it came (no RUN needed it, so it was
 * never fetched); a mount neither has is left out.
 */
export async function cacheMountLayers(parts: StoreParts, keys: readonly CacheMountKey[], imported: ImportedCache | undefined, progress: ProgressSink): Promise<CacheMountLayer[]> {
  const out: CacheMountLayer[] = [];
  const toRead: Array<{ key: CacheMountKey; dir: string }> = [];
  for (const key of keys) {
    const dir = cacheMountDir(parts.store, key.id);
    if (existsSync(path.join(dir, 'data'))) {
      const known = await readLayerFile(dir);
      if (known && (await parts.content.has(known.blob.digest))) out.push({ ...key, layer: known });
      else toRead.push({ key, dir });
      continue;
    }
    const carried = imported?.mount(key);
    if (carried) out.push({ ...key, layer: carried.layer });
  }
  if (toRead.length) {
    await step(progress, 'cache-mounts', `reading ${toRead.length} cache mount${toRead.length === 1 ? '' : 's'}`, async () => {
      // One layer per directory, even when two keys share it (the same id with other owners).
      const byDir = new Map<string, Layer>();
      for (const { key, dir } of toRead) {
        let layer = byDir.get(dir);
        if (!layer) {
          // Not clamped to SOURCE_DATE_EPOCH: the contents are restored as they were, and an unchanged directory gives the same bytes.
          const stored = (await storeLayer(parts.store, parts.content, diffUpperDir(path.join(dir, 'data')), { keepEmpty: true }))!;
          layer = { blob: stored.blob, diffID: stored.diffID };
          byDir.set(dir, layer);
          await writeLayerFile(dir, layer);
        }
        out.push({ ...key, layer });
      }
    });
  }
  return out;
}

