// RUN for another architecture: the kernel's binfmt_misc hands the foreign binaries to an emulator
// (Debian's qemu-user-static registers one per architecture through binfmt-support). tsbuild needs
// nothing of its own for it, but the registration must carry the F flag: the kernel then opens the
// interpreter when it is registered, so it works inside a container whose root has no /usr/libexec.
// Checked before a foreign RUN starts, so a missing emulator is one clear error, not "exec format error".
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { TsbuildError } from '../common/errors.js';
import { hostPlatform, type Platform } from '../common/oci.js';
import { formatPlatform, normalizePlatform } from '../common/platform.js';

/** ELF identification of each architecture's executables: class (1: 32-bit, 2: 64-bit), data (1: LE, 2: BE), e_machine. */
const ELF: Record<string, { cls: number; data: number; machine: number; qemu: string }> = {
  amd64: { cls: 2, data: 1, machine: 0x3e, qemu: 'x86_64' },
  '386': { cls: 1, data: 1, machine: 0x03, qemu: 'i386' },
  arm64: { cls: 2, data: 1, machine: 0xb7, qemu: 'aarch64' },
  arm: { cls: 1, data: 1, machine: 0x28, qemu: 'arm' },
  ppc64le: { cls: 2, data: 1, machine: 0x15, qemu: 'ppc64le' },
  s390x: { cls: 2, data: 2, machine: 0x16, qemu: 's390x' },
  riscv64: { cls: 2, data: 1, machine: 0xf3, qemu: 'riscv64' },
  mips64le: { cls: 2, data: 1, machine: 0x08, qemu: 'mips64el' },
};

/** The first 20 bytes of an executable of `arch` (ET_EXEC), what binfmt magics are matched against. */
function elfHeader(arch: string): Buffer | undefined {
  const e = ELF[arch];
  if (!e) return undefined;
  const h = Buffer.alloc(20);
  h.set([0x7f, 0x45, 0x4c, 0x46, e.cls, e.data, 1], 0);
  if (e.data === 1) {
    h.writeUInt16LE(2, 16);
    h.writeUInt16LE(e.machine, 18);
  } else {
    h.writeUInt16BE(2, 16);
    h.writeUInt16BE(e.machine, 18);
  }
  return h;
}

export interface BinfmtEntry {
  name: string;
  enabled: boolean;
  interpreter: string;
  flags: string;
  offset: number;
  magic: Buffer;
  mask?: Buffer;
}

/** The registrations in binfmt_misc (empty when it is not mounted). Exported for tests, with a fixture dir. */
export function binfmtEntries(dir = '/proc/sys/fs/binfmt_misc'): BinfmtEntry[] {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n !== 'register' && n !== 'status');
  } catch {
    return [];
  }
  const out: BinfmtEntry[] = [];
  for (const name of names) {
    let text: string;
    try {
      text = readFileSync(path.join(dir, name), 'utf8');
    } catch {
      continue;
    }
    const field = (k: string): string | undefined => new RegExp(`^${k}:? (.*)$`, 'm').exec(text)?.[1]?.trim();
    const magic = field('magic');
    if (magic === undefined) continue; // an extension-matched entry: not for ELF binaries
    const mask = field('mask');
    out.push({
      name,
      enabled: /^enabled$/m.test(text),
      interpreter: field('interpreter') ?? '',
      flags: field('flags') ?? '',
      offset: Number(field('offset') ?? 0),
      magic: Buffer.from(magic, 'hex'),
      ...(mask !== undefined ? { mask: Buffer.from(mask, 'hex') } : {}),
    });
  }
  return out;
}

function matches(e: BinfmtEntry, header: Buffer): boolean {
  if (e.offset + e.magic.length > header.length) return false;
  for (let i = 0; i < e.magic.length; i++) {
    const m = e.mask ? e.mask[i]! : 0xff;
    if ((header[e.offset + i]! & m) !== (e.magic[i]! & m)) return false;
  }
  return true;
}

/** Architectures this machine runs without help: its own, and 32-bit x86 on amd64. */
function native(arch: string): boolean {
  const host = hostPlatform().architecture;
  return arch === host || (host === 'amd64' && arch === '386');
}

/** The emulator that runs `platform`'s binaries here: undefined when none is needed. Throws when none can. */
export function checkEmulation(platform: Platform, entries: () => BinfmtEntry[] = binfmtEntries): BinfmtEntry | undefined {
  const p = normalizePlatform(platform);
  if (native(p.architecture)) return undefined;
  const name = formatPlatform(p);
  const header = elfHeader(p.architecture);
  const qemu = ELF[p.architecture]?.qemu ?? p.architecture;
  const hint =
    `install emulation (as root): apt-get install qemu-user-static binfmt-support; if /proc/sys/fs/binfmt_misc is empty, ` +
    `mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc && update-binfmts --enable qemu-${qemu}`;
  if (!header) throw new TsbuildError('TSB_PLATFORM', `RUN for ${name}: tsbuild does not know how to emulate the ${p.architecture} architecture`, { hint: 'build for a platform of this machine, or one of linux/amd64, arm64, arm/v7, 386, ppc64le, s390x, riscv64' });
  const found = entries().filter((e) => matches(e, header));
  const usable = found.find((e) => e.enabled && e.flags.includes('F'));
  if (usable) return usable;
  const why = found.length === 0 ? `no emulator for ${p.architecture} is registered with binfmt_misc` : found.some((e) => e.enabled) ? `the ${found[0]!.name} emulator is registered without the F flag (it must be usable inside containers)` : `the ${found[0]!.name} emulator is disabled`;
  throw new TsbuildError('TSB_PLATFORM', `RUN for ${name} needs emulation on this ${formatPlatform(hostPlatform())} machine: ${why}`, {
    hint: found.length && !found.some((e) => e.enabled) ? `as root: update-binfmts --enable ${found[0]!.name}` : hint,
  });
}
