// Platform strings (`--platform`, `FROM --platform`) as containerd's platforms package reads them:
// `os[/arch[/variant]]`, or a lone arch (linux assumed) or os (this machine's arch), normalised so
// that every layer compares platforms alike: aarch64 → arm64, x86_64 → amd64, arm64/v8 → arm64,
// armhf → arm/v7, a bare arm → arm/v7.
import { UsageError } from './errors.js';
import { hostPlatform, type Platform } from './oci.js';

const OSES = new Set(['aix', 'android', 'darwin', 'dragonfly', 'freebsd', 'illumos', 'ios', 'js', 'linux', 'netbsd', 'openbsd', 'plan9', 'solaris', 'wasip1', 'windows']);
const ARCHES = new Set(['386', 'amd64', 'arm', 'arm64', 'loong64', 'mips', 'mips64', 'mips64le', 'mipsle', 'ppc64', 'ppc64le', 'riscv64', 's390x', 'wasm']);

/** containerd's Normalize: one spelling per platform. */
export function normalizePlatform(p: Platform): Platform {
  const os = p.os.toLowerCase() === 'macos' ? 'darwin' : p.os.toLowerCase();
  let arch = p.architecture.toLowerCase();
  let variant = p.variant?.toLowerCase() ?? '';
  switch (arch) {
    case 'i386':
      arch = '386';
      variant = '';
      break;
    case 'x86_64':
    case 'x86-64':
    case 'amd64':
      arch = 'amd64';
      if (variant === 'v1') variant = '';
      break;
    case 'aarch64':
    case 'arm64':
      arch = 'arm64';
      if (variant === '8' || variant === 'v8' || variant === 'v8.0') variant = '';
      break;
    case 'armhf':
      arch = 'arm';
      variant = 'v7';
      break;
    case 'armel':
      arch = 'arm';
      variant = 'v6';
      break;
    case 'arm':
      variant = variant === '' || variant === '7' ? 'v7' : /^\d$/.test(variant) ? `v${variant}` : variant;
      break;
  }
  return { os, architecture: arch, ...(variant ? { variant } : {}) };
}

export function formatPlatform(p: Platform): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`;
}

const FORM = 'os/arch[/variant], e.g. linux/amd64 or linux/arm64 or linux/arm/v7';

/** One platform string, normalised; a malformed or unknown one is a usage error naming `what`. */
export function parsePlatform(s: string, what = '--platform'): Platform {
  const parts = s.trim().split('/');
  const bad = (why: string): never => {
    throw new UsageError(`${what}: invalid platform "${s}": ${why}`, `write ${FORM}`);
  };
  if (parts.length > 3 || parts.some((x) => !/^[A-Za-z0-9_.-]+$/.test(x))) bad('expected os/arch[/variant]');
  const [a, b, c] = parts.map((x) => x.toLowerCase()) as [string, string | undefined, string | undefined];
  if (b === undefined) {
    if (OSES.has(a)) return normalizePlatform({ ...hostPlatform(), os: a });
    const arch = normalizePlatform({ os: 'linux', architecture: a });
    if (ARCHES.has(arch.architecture)) return arch;
    return bad('neither an OS nor an architecture');
  }
  if (!OSES.has(a) && a !== 'macos') bad(`unknown OS "${a}"`);
  const p = normalizePlatform({ os: a, architecture: b, ...(c ? { variant: c } : {}) });
  if (!ARCHES.has(p.architecture)) bad(`unknown architecture "${b}"`);
  return p;
}

/** `--platform a,b,c`: each normalised, duplicates dropped, order kept. */
export function parsePlatforms(values: readonly string[], what = '--platform'): Platform[] {
  const out: Platform[] = [];
  for (const v of values.flatMap((x) => x.split(','))) {
    if (v.trim() === '') continue;
    const p = parsePlatform(v, what);
    if (!out.some((q) => samePlatform(p, q))) out.push(p);
  }
  return out;
}

export function samePlatform(a: Platform, b: Platform): boolean {
  const x = normalizePlatform(a);
  const y = normalizePlatform(b);
  return x.os === y.os && x.architecture === y.architecture && (x.variant ?? '') === (y.variant ?? '');
}
