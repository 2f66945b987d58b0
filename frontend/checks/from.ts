// The rules about FROM lines, run for every stage when its base is worked out (global ARGs only)
// and, for InvalidBaseImagePlatform, when its base image has been resolved.
import type { ResolvedImage } from '../../builder/frontend.js';
import { UsageError } from '../../common/errors.js';
import type { Platform } from '../../common/oci.js';
import { formatPlatform, parsePlatform } from '../../common/platform.js';
import { ExpansionError, expandWord, type ExpandResult } from '../shell.js';
import type { Stage } from '../stages.js';
import { suggest } from '../suggest.js';
import type { Checks } from './rules.js';

/** FROM --platform's value as BuildKit's check reads it: parsed and normalised, or undefined when invalid (the plan reports that). */
function constPlatform(value: string): Platform | undefined {
  try {
    return parsePlatform(value, 'FROM --platform');
  } catch (e) {
    if (e instanceof UsageError) return undefined;
    throw e;
  }
}

const referenceRe = (() => {
  const domainComponent = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
  const domain = `(?:${domainComponent}(?:\\.${domainComponent})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?`;
  const component = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
  const name = `(?:${domain}/)?${component}(?:/${component})*`;
  return new RegExp(`^(${name})(?::[\\w][\\w.-]{0,127})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$`);
})();

/** distribution/reference ParseNormalizedNamed, as far as validity goes. */
export function isValidImageReference(ref: string): boolean {
  if (!ref) return false;
  if (/^[a-f0-9]{64}$/.test(ref)) return false;
  const m = referenceRe.exec(ref);
  return !!m && m[1]!.length <= 255;
}

const isName = (n: string): boolean => /^[A-Za-z_][A-Za-z0-9_]*$/.test(n);

/** InvalidDefaultArgInFrom: every base name must be valid with no --build-arg at all. */
export function defaultArgsInFrom(checks: Checks, stages: readonly Stage[], defaults: ReadonlyMap<string, string>, escape: string): void {
  for (const s of stages) {
    let base: string;
    try {
      base = expandWord(s.from.base, defaults, escape).value;
    } catch (e) {
      // The walk reports a malformed substitution, with the build args it expands against.
      if (e instanceof ExpansionError) return;
      throw e;
    }
    if (!isValidImageReference(base)) checks.warn('InvalidDefaultArgInFrom', `Default value for ARG ${s.from.base} results in empty or invalid base image name`, s.from.location);
  }
}

/**
 * UndefinedArgInFrom, RedundantTargetPlatform and FromPlatformFlagConstDisallowed, from the
 * expansions of the stage's base name and --platform against the global ARGs.
 */
export function fromChecks(checks: Checks, stage: Stage, base: ExpandResult, platform: ExpandResult | undefined, globals: ReadonlyMap<string, string>, declared: ReadonlySet<string>): void {
  const { location } = stage.from;
  const undeclared = (unmatched: ReadonlySet<string>): void => {
    for (const v of unmatched) {
      if (declared.has(v) || !isName(v)) continue;
      const hint = suggest(v, declared);
      checks.warn('UndefinedArgInFrom', `FROM argument '${v}' is not declared${hint ? ` (did you mean ${hint}?)` : ''}`, location);
    }
  };
  undeclared(base.unmatched);
  if (!platform) return;
  undeclared(platform.unmatched);
  const written = stage.from.platform!;
  if (platform.unmatched.size === 0 && platform.matched.size === 1 && platform.matched.has('TARGETPLATFORM') && platform.value === globals.get('TARGETPLATFORM')) {
    checks.warn('RedundantTargetPlatform', `Setting platform to predefined ${written} in FROM is redundant as this is the default behavior`, location);
  }
  if (platform.matched.size + platform.unmatched.size === 0) {
    const p = constPlatform(platform.value);
    const name = stage.name ?? '';
    if (p && !(name.includes(p.os) || name.includes(p.architecture))) checks.warn('FromPlatformFlagConstDisallowed', `FROM --platform flag should not use constant value "${platform.value}"`, location);
  }
}

/** InvalidBaseImagePlatform: the resolved base image is for another platform than the build's. */
export function baseImagePlatform(checks: Checks, stage: Stage, ref: string, image: ResolvedImage, expected: Platform): void {
  const { os, architecture, variant } = image.config;
  if (os === expected.os && architecture === expected.architecture) return;
  const actual = formatPlatform({ os, architecture, ...(variant ? { variant } : {}) });
  checks.warn('InvalidBaseImagePlatform', `Base image ${ref} was pulled with platform "${actual}", expected "${formatPlatform(expected)}" for current build`, stage.from.location);
}
