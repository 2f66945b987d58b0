import test from 'ava';
import { constants } from 'node:fs';
import { lstat, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { getXattr, listXattrs, mknod, readXattrs, removeXattr, setXattr } from '../../native/fsops.js';

async function tmp(t: { teardown(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'fsops-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('xattrs: binary values round-trip, list and remove', async (t) => {
  const dir = await tmp(t);
  const f = path.join(dir, 'f');
  await writeFile(f, 'x');
  // A valid vfs_cap_data v2 (the kernel validates it): effective flag, caps 0-7 permitted.
  const bin = Buffer.from('01000002ff000000000000000000000000000000', 'hex');
  setXattr(f, 'security.capability', bin);
  setXattr(f, 'user.bin', Buffer.from([0x01, 0xff, 0x00]));
  t.deepEqual(getXattr(f, 'user.bin'), Buffer.from([0x01, 0xff, 0x00]));
  removeXattr(f, 'user.bin');
  setXattr(f, 'user.empty', Buffer.alloc(0));
  setXattr(f, 'trusted.overlay.opaque', Buffer.from('y'));
  t.deepEqual(listXattrs(f).sort(), ['security.capability', 'trusted.overlay.opaque', 'user.empty']);
  t.deepEqual(getXattr(f, 'security.capability'), bin);
  t.deepEqual(getXattr(f, 'user.empty'), Buffer.alloc(0));
  t.is(getXattr(f, 'user.absent'), null);
  t.deepEqual([...readXattrs(f).keys()], ['security.capability', 'trusted.overlay.opaque', 'user.empty']);
  removeXattr(f, 'user.empty');
  t.is(getXattr(f, 'user.empty'), null);
});

test('xattrs act on the symlink itself, not its target', async (t) => {
  const dir = await tmp(t);
  const f = path.join(dir, 'f');
  const l = path.join(dir, 'l');
  await writeFile(f, 'x');
  await symlink('f', l);
  setXattr(l, 'trusted.foo', Buffer.from('link'));
  t.is(getXattr(f, 'trusted.foo'), null);
  t.deepEqual(getXattr(l, 'trusted.foo'), Buffer.from('link'));
  t.deepEqual(listXattrs(f), []);
});

test('errors carry Node-style codes', async (t) => {
  const dir = await tmp(t);
  const missing = path.join(dir, 'missing');
  const e1 = t.throws(() => listXattrs(missing)) as NodeJS.ErrnoException;
  t.is(e1.code, 'ENOENT');
  t.is(e1.syscall, 'llistxattr');
  t.is(e1.path, missing);
  const l = path.join(dir, 'l');
  await symlink('nowhere', l);
  // user.* xattrs are not permitted on symlinks.
  const e2 = t.throws(() => setXattr(l, 'user.x', Buffer.from('1'))) as NodeJS.ErrnoException;
  t.is(e2.code, 'EPERM');
  const e3 = t.throws(() => setXattr(path.join(dir), 'bogusns.x', Buffer.from('1'))) as NodeJS.ErrnoException;
  t.is(e3.code, 'EOPNOTSUPP');
  t.throws(() => setXattr(l, 'user.x', 'str' as unknown as Buffer), { instanceOf: TypeError });
});

test('mknod creates whiteouts, devices and fifos', async (t) => {
  const dir = await tmp(t);
  mknod(path.join(dir, 'wh'), constants.S_IFCHR, 0, 0);
  mknod(path.join(dir, 'null'), constants.S_IFCHR | 0o666, 1, 3);
  mknod(path.join(dir, 'blk'), constants.S_IFBLK | 0o600, 7, 300);
  mknod(path.join(dir, 'fifo'), constants.S_IFIFO | 0o644, 0, 0);
  const wh = await lstat(path.join(dir, 'wh'));
  t.true(wh.isCharacterDevice());
  t.is(wh.rdev, 0);
  const nul = await lstat(path.join(dir, 'null'));
  t.true(nul.isCharacterDevice());
  t.is(nul.mode & 0o777, 0o666 & ~process.umask());
  t.is(nul.rdev, (1 << 8) | 3);
  const blk = await lstat(path.join(dir, 'blk'));
  t.true(blk.isBlockDevice());
  // glibc makedev: minor's high bits live above bit 20.
  t.is(blk.rdev, ((300 & 0xff) | (7 << 8) | ((300 & ~0xff) << 12)));
  t.true((await lstat(path.join(dir, 'fifo'))).isFIFO());
  const e = t.throws(() => mknod(path.join(dir, 'wh'), constants.S_IFCHR, 0, 0)) as NodeJS.ErrnoException;
  t.is(e.code, 'EEXIST');
});
