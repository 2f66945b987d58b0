import test from 'ava';
import { hostPlatform } from '../../common/oci.js';
import { formatPlatform, parsePlatform, parsePlatforms, samePlatform } from '../../common/platform.js';

test('platforms are normalised as containerd does', (t) => {
  const f = (s: string): string => formatPlatform(parsePlatform(s));
  t.is(f('linux/amd64'), 'linux/amd64');
  t.is(f('linux/x86_64'), 'linux/amd64');
  t.is(f('Linux/AArch64'), 'linux/arm64');
  t.is(f('linux/arm64/v8'), 'linux/arm64');
  t.is(f('linux/arm'), 'linux/arm/v7');
  t.is(f('linux/armhf'), 'linux/arm/v7');
  t.is(f('linux/arm/6'), 'linux/arm/v6');
  t.is(f('linux/i386'), 'linux/386');
  t.is(f('arm64'), 'linux/arm64');
  t.is(f('linux'), formatPlatform({ ...hostPlatform(), variant: undefined }).replace(/\/v8$/, ''));
});

test('bad platforms are usage errors naming the flag and the form', (t) => {
  for (const s of ['linux/amd64/v1/x', 'plan10/amd64', 'linux/z80', 'linux/ amd64', 'foo']) {
    const e = t.throws(() => parsePlatform(s, '--platform'));
    t.is((e as { code?: string }).code, 'TSB_USAGE');
    t.regex(e!.message, new RegExp(`^--platform: invalid platform "${s.replace(/[/.]/g, '\\$&')}"`));
  }
});

test('a platform list is split on commas, normalised and deduplicated in order', (t) => {
  t.deepEqual(parsePlatforms(['linux/amd64,linux/arm64', 'linux/aarch64', 'linux/x86_64']).map(formatPlatform), ['linux/amd64', 'linux/arm64']);
  t.true(samePlatform({ os: 'linux', architecture: 'arm64', variant: 'v8' }, { os: 'linux', architecture: 'aarch64' }));
  t.false(samePlatform({ os: 'linux', architecture: 'arm', variant: 'v6' }, { os: 'linux', architecture: 'arm' }));
});
