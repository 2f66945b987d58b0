// The default output: the image tagged in the local store (`--output type=image[,name=N][,push=true]`).
// Its layers stay as built (plain tars); compression= and the like apply to the push=true push.
import { COMPRESSION_ATTRS, distributionAttrs } from '../distribution.js';
import { checkAttrs, outputNames, type Exporter, type ExporterFactory } from '../exporter.js';

export const imageStoreExporter: ExporterFactory = (attrs, req): Exporter => {
  checkAttrs('image', attrs, ['name', 'push', ...COMPRESSION_ATTRS]);
  distributionAttrs(attrs, '--output type=image');
  const names = outputNames(attrs, req);
  return {
    type: 'image',
    remote: false,
    async export(image, ctx) {
      // Layers known only from a local cache directory are copied in: that directory may be gone
      // by the next command. Those a registry holds stay lazy.
      for (const { blob } of image.layers) if (ctx.parts.lazy.onlyLocal(blob.digest)) await ctx.parts.content.ensure(blob.digest);
      for (const name of names) await ctx.parts.images.tag(name, image.manifest, image.config.created);
      return { 'containerimage.digest': image.manifest.digest, 'containerimage.config.digest': image.configDescriptor.digest, ...(names.length ? { 'image.name': names.join(',') } : {}) };
    },
  };
};
