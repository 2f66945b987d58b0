// `tsbuild import SOURCE NAME`: an image from a root filesystem (a directory or a tar archive), as
// `docker import`; one layer, the given config settings, written by the image writer.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { pipeline, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { TsbuildError, UsageError } from '../common/errors.js';
import { hostPlatform, type Digest, type ImageConfig, type RunConfig } from '../common/oci.js';
import { detectArchive } from '../snapshotter/archive.js';
import { diffUpperDir } from '../snapshotter/diff.js';
import { storeLayer } from '../snapshotter/layer.js';
import type { StoreParts } from './engine.js';
import { sourceDateEpoch } from './build.js';
import { imageRef } from './images.js';
import { writeImage } from './imagewriter.js';

/** A tar archive's entries stream, gunzipped when it is gzip (by its magic number). */
function tarStream(file: string): Readable {
  const raw = createReadStream(file);
  return detectArchive(file) === 'gzip' ? pipeline(raw, createGunzip(), () => {}) : raw;
}

export async function importImage(parts: StoreParts, source: string, name: string, config: RunConfig): Promise<Digest> {
  const full = imageRef(name);
  const st = await stat(source).catch(() => {
    throw new UsageError(`import source ${source} does not exist`, 'give a root filesystem directory or a tar archive');
  });
  // Reproducible with SOURCE_DATE_EPOCH, as builds are: times clamped, history dated by it.
  const epoch = sourceDateEpoch();
  const tar = st.isDirectory() ? diffUpperDir(path.resolve(source), epoch !== undefined ? { sourceDateEpoch: epoch } : {}) : tarStream(source);
  const layer = await storeLayer(parts.store, parts.content, tar, { keepEmpty: true });
  if (!layer) throw new TsbuildError('TSB_INTERNAL', 'import made no layer although empty layers are kept');
  const platform = hostPlatform();
  const now = epoch !== undefined ? new Date(epoch * 1000).toISOString().replace('.000Z', 'Z') : new Date().toISOString();
  const image: ImageConfig = {
    architecture: platform.architecture,
    os: platform.os,
    created: now,
    config,
    rootfs: { type: 'layers', diff_ids: [layer.diffID] },
    history: [{ created: now, created_by: `tsbuild import ${path.basename(source)}`, comment: 'Imported' }],
  };
  const written = await writeImage(parts.content, image, [layer.blob]);
  await parts.images.tag(full, written.manifest);
  return written.manifest.digest;
}
