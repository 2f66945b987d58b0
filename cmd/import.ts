// `tsbuild import SOURCE NAME`: an image from a root filesystem (a directory or a tar archive),
// as `docker import`, with `--change` for the few config settings it takes.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { pipeline, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { ContentStore } from '../snapshotter/content.js';
import { detectArchive } from '../snapshotter/archive.js';
import { diffUpperDir } from '../snapshotter/diff.js';
import { ImageStore } from '../snapshotter/images.js';
import { storeLayer } from '../snapshotter/layer.js';
import { hostPlatform, MediaType, type ImageConfig, type Manifest, type RunConfig } from '../common/oci.js';
import { normalizeReference } from '../snapshotter/reference.js';
import { Store } from '../snapshotter/store.js';
import { UsageError } from './errors.js';

/** `ENV K=V`, `CMD ["x"]` (or shell form), `ENTRYPOINT`, `WORKDIR`, `USER`, `LABEL K=V`, `EXPOSE P`. */
export function applyChange(config: RunConfig, change: string): void {
  const m = /^\s*(\w+)\s+([\s\S]*)$/.exec(change);
  if (!m) throw new UsageError(`invalid --change "${change}"`, 'e.g. --change \'ENV PATH=/bin\' --change \'CMD ["/bin/sh"]\'');
  const [word, rest] = [m[1]!.toUpperCase(), m[2]!.trim()];
  const argv = (): string[] => {
    try {
      const v: unknown = JSON.parse(rest);
      if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
    } catch {
      // shell form
    }
    return ['/bin/sh', '-c', rest];
  };
  const pair = (): [string, string] => {
    const eq = rest.indexOf('=');
    if (eq <= 0) throw new UsageError(`--change "${change}" needs KEY=VALUE`);
    return [rest.slice(0, eq), rest.slice(eq + 1)];
  };
  switch (word) {
    case 'ENV': {
      const [k, v] = pair();
      config.Env = [...(config.Env ?? []).filter((e) => !e.startsWith(`${k}=`)), `${k}=${v}`];
      break;
    }
    case 'LABEL': {
      const [k, v] = pair();
      config.Labels = { ...(config.Labels ?? {}), [k]: v };
      break;
    }
    case 'CMD':
      config.Cmd = argv();
      break;
    case 'ENTRYPOINT':
      config.Entrypoint = argv();
      break;
    case 'WORKDIR':
      config.WorkingDir = rest;
      break;
    case 'USER':
      config.User = rest;
      break;
    case 'EXPOSE':
      config.ExposedPorts = { ...(config.ExposedPorts ?? {}), [rest.includes('/') ? rest : `${rest}/tcp`]: {} };
      break;
    default:
      throw new UsageError(`--change does not take ${word}`, 'it takes ENV, LABEL, CMD, ENTRYPOINT, WORKDIR, USER and EXPOSE');
  }
}

/** A tar archive's entries stream, gunzipped when it is gzip (by its magic number). */
function tarStream(file: string): Readable {
  const raw = createReadStream(file);
  return detectArchive(file) === 'gzip' ? pipeline(raw, createGunzip(), () => {}) : raw;
}

export async function importImage(source: string, name: string, changes: string[], root?: string): Promise<string> {
  const full = normalizeReference(name);
  const st = await stat(source).catch(() => {
    throw new UsageError(`import source ${source} does not exist`, 'give a root filesystem directory or a tar archive');
  });
  const config: RunConfig = {};
  for (const c of changes) applyChange(config, c);
  const store = Store.open(root);
  try {
    const content = new ContentStore(store);
    const tar = st.isDirectory() ? diffUpperDir(path.resolve(source)) : tarStream(source);
    const layer = await storeLayer(store, content, tar, { keepEmpty: true });
    if (!layer) throw new Error('unreachable: keepEmpty');
    const platform = hostPlatform();
    const image: ImageConfig = {
      architecture: platform.architecture,
      os: platform.os,
      created: new Date().toISOString(),
      config,
      rootfs: { type: 'layers', diff_ids: [layer.diffID] },
      history: [{ created: new Date().toISOString(), created_by: `tsbuild import ${path.basename(source)}`, comment: 'Imported' }],
    };
    const cfg = await content.putBytes(JSON.stringify(image));
    const manifest: Manifest = {
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      config: { mediaType: MediaType.ociConfig, digest: cfg.digest, size: cfg.size },
      layers: [layer.blob],
    };
    const m = await content.putBytes(JSON.stringify(manifest));
    await new ImageStore(store).tag(full, { mediaType: MediaType.ociManifest, digest: m.digest, size: m.size });
    return m.digest;
  } finally {
    await store.close();
  }
}
