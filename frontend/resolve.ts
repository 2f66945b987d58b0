// The images a build uses, resolved before its walk, as BuildKit resolves the base images of the
// reachable stages up front and in parallel: the walk itself then needs no I/O. A resolved base
// image's ONBUILD triggers may use more images or stages, so this repeats until nothing is new.
import type { FrontendInput, ResolvedImage } from '../builder/frontend.js';
import { TsbuildError } from '../common/errors.js';
import { DockerfileError } from './errors.js';
import { imageKey, imageUses, neededStages, type ImageUse, type Images, type Plan } from './plan.js';

export async function resolveImages(plan: Plan, resolveImage: FrontendInput['resolveImage'], allStages: boolean): Promise<Images> {
  const images = new Map<string, ResolvedImage>();
  for (;;) {
    const missing = imageUses(plan, neededStages(plan, images, allStages), images).filter((u) => !images.has(imageKey(u.ref, u.platform)));
    if (missing.length === 0) return images;
    const results = await Promise.allSettled(missing.map((u) => resolveImage(u.ref, u.platform)));
    // The first failure in file order is the one reported, whichever settled first.
    results.forEach((r, k) => {
      if (r.status === 'rejected') throw located(missing[k]!, r.reason);
      images.set(imageKey(missing[k]!.ref, missing[k]!.platform), r.value);
    });
    // Only triggers can make a resolved image need more.
    if (!results.some((r) => r.status === 'fulfilled' && r.value.config.config?.OnBuild?.length)) return images;
  }
}

/** A resolver failure at the instruction that uses the image (the resolver's errors are the user's, by contract). */
function located(use: ImageUse, e: unknown): unknown {
  if (e instanceof TsbuildError && e.kind === 'internal') return e;
  const { message, hint } = e as { message?: string; hint?: string };
  const fallback = use.asBase ? `check the name; \`tsbuild images\` lists the local store` : `--from=${use.ref} is neither a stage of this Dockerfile nor an image`;
  return new DockerfileError(e instanceof TsbuildError ? e.code : 'TSB_IMAGE_NOT_FOUND', message ?? String(e), { location: use.location, hint: hint ?? fallback, cause: e });
}
