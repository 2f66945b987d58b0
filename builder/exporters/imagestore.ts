// The default output: the image tagged in the local store (`--output type=image[,name=N][,push=true]`).
import { checkAttrs, outputNames, type Exporter, type ExporterFactory } from '../exporter.js';

export const imageStoreExporter: ExporterFactory = (attrs, req): Exporter => {
  checkAttrs('image', attrs, ['name', 'push']);
  const names = outputNames(attrs, req);
  return {
    type: 'image',
    remote: false,
    async export(image, ctx) {
      for (const name of names) await ctx.parts.images.tag(name, image.manifest, image.config.created);
      return { 'containerimage.digest': image.manifest.digest, 'containerimage.config.digest': image.configDescriptor.digest, ...(names.length ? { 'image.name': names.join(',') } : {}) };
    },
  };
};
