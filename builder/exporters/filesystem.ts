// `--output type=local,dest=DIR` (also a bare `-o DIR`) and `type=tar,dest=FILE|-`: the final
// filesystem itself, not an image: files with their modes, owners, times and xattrs.
import { mkdir, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { UsageError } from '../../common/errors.js';
import { formatPlatform } from '../../common/platform.js';
import { materialize } from '../../snapshotter/copying.js';
import { diffUpperDir } from '../../snapshotter/diff.js';
import { MergedView } from '../../snapshotter/view.js';
import { checkAttrs, writeOutput, type BuiltImage, type ExportContext, type Exporter, type ExporterFactory } from '../exporter.js';

/**
 * The image's merged filesystem copied into `dir` (its layers unpacked first if they are not yet);
 * a multi-platform image's, each in a directory of its platform's name (linux_arm64/), as buildx.
 */
async function unpack(image: BuiltImage, ctx: ExportContext, dir: string): Promise<void> {
  const { snapshots } = ctx.parts;
  const images = image.platforms ?? [image];
  for (const img of images) {
    const into = image.platforms && 'platform' in img ? path.join(dir, formatPlatform(img.platform).replaceAll('/', '_')) : dir;
    await mkdir(into, { recursive: true });
    const chain = await snapshots.importImage(img.layers.map((l) => l.blob), img.layers.map((l) => l.diffID));
    materialize(new MergedView(snapshots.lowerDirs(chain)), into);
  }
}

function filesystemExporter(type: 'local' | 'tar'): ExporterFactory {
  return (attrs): Exporter => {
    checkAttrs(type, attrs, ['dest']);
    const dest = attrs.dest;
    if (!dest) throw new UsageError(`--output type=${type} needs dest=${type === 'local' ? 'DIR' : 'FILE (or - for standard output)'}`);
    if (type === 'local' && dest === '-') throw new UsageError('--output type=local needs a directory; for a stream use type=tar,dest=-');
    return {
      type,
      remote: false,
      async export(image, ctx) {
        if (type === 'local') {
          const dir = path.resolve(dest);
          await mkdir(dir, { recursive: true });
          if ((await readdir(dir)).length > 0) throw new UsageError(`--output type=local: ${dir} is not empty`, 'give an empty or new directory; tsbuild does not overwrite files there');
          await unpack(image, ctx, dir);
          return { dest: dir };
        }
        const tmp = ctx.parts.store.tmpPath('rootfs');
        try {
          await mkdir(tmp);
          await unpack(image, ctx, tmp);
          await writeOutput(dest, diffUpperDir(tmp, ctx.sourceDateEpoch !== undefined ? { sourceDateEpoch: ctx.sourceDateEpoch } : {}), ctx);
        } finally {
          await rm(tmp, { recursive: true, force: true });
        }
        return { dest };
      },
    };
  };
}

export const localExporter = filesystemExporter('local');
export const tarExporter = filesystemExporter('tar');
