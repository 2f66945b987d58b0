import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { binfmtEntries, checkEmulation } from '../../builder/emulation.js';
import { hostPlatform } from '../../common/oci.js';

// Debian's qemu-user-static registration for aarch64, as /proc/sys/fs/binfmt_misc shows it.
const AARCH64 = (state: string, flags: string): string =>
  `${state}\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: ${flags}\noffset 0\nmagic 7f454c460201010000000000000000000200b700\nmask ffffffffffffff00fffffffffffffffffeffffff\n`;

function binfmtDir(entries: Record<string, string>): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tsbuild-binfmt-'));
  writeFileSync(path.join(dir, 'status'), 'enabled\n');
  writeFileSync(path.join(dir, 'register'), '');
  for (const [name, text] of Object.entries(entries)) writeFileSync(path.join(dir, name), text);
  return dir;
}

const arm64 = { os: 'linux', architecture: 'arm64' };
const foreign = hostPlatform().architecture !== 'arm64';

test('the host platform needs no emulator', (t) => {
  t.is(checkEmulation(hostPlatform(), () => []), undefined);
});

(foreign ? test : test.skip)('an enabled registration with the F flag runs arm64; without F, disabled or missing it is a clear error', (t) => {
  const cases: Array<[Record<string, string>, RegExp | undefined, RegExp | undefined]> = [
    [{ 'qemu-aarch64': AARCH64('enabled', 'PF') }, undefined, undefined],
    [{ 'qemu-aarch64': AARCH64('enabled', 'P') }, /registered without the F flag/, /apt-get install qemu-user-static/],
    [{ 'qemu-aarch64': AARCH64('disabled', 'PF') }, /the qemu-aarch64 emulator is disabled/, /update-binfmts --enable qemu-aarch64/],
    [{}, /no emulator for arm64 is registered with binfmt_misc/, /mount -t binfmt_misc .* update-binfmts --enable qemu-aarch64/],
  ];
  for (const [entries, message, hint] of cases) {
    const dir = binfmtDir(entries);
    try {
      if (!message) {
        t.is(checkEmulation(arm64, () => binfmtEntries(dir))?.name, 'qemu-aarch64');
        continue;
      }
      const e = t.throws(() => checkEmulation(arm64, () => binfmtEntries(dir)));
      t.is((e as { code?: string }).code, 'TSB_PLATFORM');
      t.regex(e!.message, /^RUN for linux\/arm64 needs emulation on this linux\/\w+ machine: /);
      t.regex(e!.message, message);
      t.regex((e as { hint?: string }).hint ?? '', hint!);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
});

test('an entry for another architecture does not count', (t) => {
  const dir = binfmtDir({ 'qemu-riscv64': 'enabled\ninterpreter /x\nflags: F\noffset 0\nmagic 7f454c460201010000000000000000000200f300\nmask ffffffffffffff00fffffffffffffffffeffffff\n' });
  try {
    if (foreign) t.throws(() => checkEmulation(arm64, () => binfmtEntries(dir)), { message: /no emulator for arm64/ });
    t.is(checkEmulation({ os: 'linux', architecture: 'riscv64' }, () => binfmtEntries(dir))?.name, hostPlatform().architecture === 'riscv64' ? undefined : 'qemu-riscv64');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
