// The rules about FROM lines, run for every stage when its base is worked out (global ARGs only)
// and, for InvalidBaseImagePlatform, when its base image has been resolved.
import { formatPlatform } from '../../common/platform.js';
import type { ResolvedImage } from '../../builder/frontend.js';
import type { Platform } from '../../common/oci.js';
import { ExpansionError, expandWord, type ExpandResult } from '../shell.js';
import type { Stage } from '../stages.js';
import { suggest } from '../suggest.js';
import type { Checks } from './rules.js';

const KNOWN_OS = new Set(['aix', 'android', 'darwin', 'dragonfly', 'freebsd', 'illumos', 'ios', 'js', 'linux', 'netbsd', 'openbsd', 'plan9', 'solaris', 'wasip1', 'windows']);
const KNOWN_ARCH = new Set(['386', 'amd64', 'amd64p32', 'arm', 'arm64', 'arm64be', 'armbe', 'loong64', 'mips', 'mips64', 'mips64le', 'mipsle', 'ppc64', 'ppc64le', 'riscv64', 's390x', 'sparc64', 'wasm', 'x86_64', 'aarch64', 'i386', 'armhf', 'armel']);

/** containerd's platforms.Parse, loosely: `os[/arch[/variant]]` or a lone os or arch. */
function parsePlatform(s: string): { os: string; arch: string } | undefined {
  const parts = s.toLowerCase().split('/');
  if (parts.length > 3 || parts.some((p) => !/^[a-z0-9_.-]+$/.test(p))) return undefined;
  if (parts.length === 1) {
    if (KNOWN_OS.has(parts[0]!)) return { os: parts[0]!, arch: 'amd64' };
    if (KNOWN_ARCH.has(parts[0]!)) return { os: 'linux', arch: parts[0]! };
    return undefined;
  }
  if (!KNOWN_OS.has(parts[0]!)) return undefined;
  return { os: parts[0]!, arch: parts[1]! };
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
    const p = parsePlatform(platform.value);
    const name = stage.name ?? '';
    if (p && !(name.includes(p.os) || name.includes(p.arch))) checks.warn('FromPlatformFlagConstDisallowed', `FROM --platform flag should not use constant value "${platform.value}"`, location);
  }
}

/** InvalidBaseImagePlatform: the resolved base image is for another platform than the build's. */
export function baseImagePlatform(checks: Checks, stage: Stage, ref: string, image: ResolvedImage, expected: Platform): void {
  const { os, architecture, variant } = image.config;
  if (os === expected.os && architecture === expected.architecture) return;
  const actual = formatPlatform({ os, architecture, ...(variant ? { variant } : {}) });
  checks.warn('InvalidBaseImagePlatform', `Base image ${ref} was pulled with platform "${actual}", expected "${formatPlatform(expected)}" for current build`, stage.from.location);
}
