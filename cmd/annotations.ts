// --annotation [TYPE[,TYPE…]:]KEY=VALUE as buildx spells it: TYPE is manifest (the default), index,
// manifest-descriptor or index-descriptor, optionally with a [platform] (this machine's only).
import { UsageError } from '../common/errors.js';
import { hostPlatform } from '../common/oci.js';
import type { Annotations } from '../builder/engine.js';

const LEVELS = { manifest: 'manifest', index: 'index', 'manifest-descriptor': 'manifestDescriptor', 'index-descriptor': 'indexDescriptor' } as const;
type Level = (typeof LEVELS)[keyof typeof LEVELS];

const FORM = 'use --annotation KEY=VALUE or TYPE:KEY=VALUE, TYPE one of manifest, index, manifest-descriptor, index-descriptor; e.g. --annotation manifest-descriptor:org.opencontainers.image.title=app';
/** A type list: `manifest`, `index,manifest`, `manifest[linux/amd64]`. */
const TYPES = /^[a-z-]+(?:\[[^\]]*\])?(?:,[a-z-]+(?:\[[^\]]*\])?)*$/;

function levelsOf(types: string, spec: string): Level[] {
  const host = hostPlatform();
  return types.split(',').map((t) => {
    const m = /^([a-z-]+)(?:\[([^\]]*)\])?$/.exec(t)!;
    const level = LEVELS[m[1] as keyof typeof LEVELS];
    if (!level) throw new UsageError(`--annotation "${spec}": unknown type "${m[1]}"`, FORM);
    const platform = m[2];
    if (platform !== undefined && platform !== `${host.os}/${host.architecture}` && platform !== `${host.os}/${host.architecture}/${host.variant}`) {
      throw new UsageError(`--annotation "${spec}": tsbuild builds for ${host.os}/${host.architecture} only, so [${platform}] matches nothing`, 'leave the platform out');
    }
    return level;
  });
}

export function parseAnnotations(list: readonly string[] | undefined): Annotations {
  const out: Record<Level, Record<string, string>> = { manifest: {}, index: {}, manifestDescriptor: {}, indexDescriptor: {} };
  for (const spec of list ?? []) {
    const eq = spec.indexOf('=');
    if (eq <= 0) throw new UsageError(`--annotation "${spec}" needs KEY=VALUE`, FORM);
    const left = spec.slice(0, eq);
    const colon = left.indexOf(':');
    const typed = colon > 0 && TYPES.test(left.slice(0, colon));
    const key = typed ? left.slice(colon + 1) : left;
    if (!key) throw new UsageError(`--annotation "${spec}" has no key`, FORM);
    for (const level of typed ? levelsOf(left.slice(0, colon), spec) : ['manifest' as const]) out[level][key] = spec.slice(eq + 1);
  }
  return Object.fromEntries(Object.entries(out).filter(([, v]) => Object.keys(v).length)) as Annotations;
}
