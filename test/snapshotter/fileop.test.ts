// The merged view and COPY into an upper dir, on real directories with real overlay whiteouts.
import test from 'ava';
import { lstatSync, mkdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { mknod, setXattr } from '../../native/fsops.js';
import { UpperWriter, FileOpError } from '../../snapshotter/fileop.js';
import { DirTree } from '../../snapshotter/tree.js';
import { MergedView } from '../../snapshotter/view.js';
import { tmpDir } from '../helpers/cli.js';

function layers(): { lower: string; upper: string; view: MergedView } {
  const bottom = tmpDir();
  const top = tmpDir();
  mkdirSync(path.join(bottom, 'etc'));
  writeFileSync(path.join(bottom, 'etc', 'passwd'), 'root:x:0:0::/:/bin/sh\n');
  writeFileSync(path.join(bottom, 'etc', 'gone'), 'x');
  mkdirSync(path.join(bottom, 'opaque', 'old'), { recursive: true });
  mkdirSync(path.join(bottom, 'usr', 'lib'), { recursive: true });
  symlinkSync('usr/lib', path.join(bottom, 'lib'));
  // top layer: a whiteout for /etc/gone, an opaque /opaque with one new file
  mkdirSync(path.join(top, 'etc'));
  mknod(path.join(top, 'etc', 'gone'), 0o20000, 0, 0);
  mkdirSync(path.join(top, 'opaque'));
  setXattr(path.join(top, 'opaque'), 'trusted.overlay.opaque', Buffer.from('y'));
  writeFileSync(path.join(top, 'opaque', 'new'), 'n');
  return { lower: bottom, upper: tmpDir(), view: new MergedView([top, bottom]) };
}

test('the view applies whiteouts and opaque dirs and resolves symlinks inside the root', (t) => {
  const { view } = layers();
  t.deepEqual(view.readdir('/etc'), ['passwd']);
  t.is(view.lookup('/etc/gone'), null);
  t.deepEqual(view.readdir('/opaque'), ['new']);
  t.is(view.resolve('/lib/x'), '/usr/lib/x');
  t.is(view.resolve('/../../lib'), '/usr/lib');
  t.is(view.readFile('/etc/passwd')?.toString(), 'root:x:0:0::/:/bin/sh\n');
});

test('COPY writes into the upper dir, through symlinked parents, with owner and mode', async (t) => {
  const { upper, view } = layers();
  const ctx = tmpDir();
  writeFileSync(path.join(ctx, 'a.so'), 'A');
  mkdirSync(path.join(ctx, 'tree', 'sub'), { recursive: true });
  writeFileSync(path.join(ctx, 'tree', 'sub', 'f'), 'F');
  symlinkSync('sub/f', path.join(ctx, 'tree', 'link'));
  const w = new UpperWriter(upper, view);
  await w.copy(new DirTree(ctx), ['a.so'], '/lib/', { owner: { uid: 7, gid: 8 }, mode: 0o640 });
  await w.copy(new DirTree(ctx), ['tree'], '/opt/t', {});
  await w.finish();
  const so = lstatSync(path.join(upper, 'usr', 'lib', 'a.so'));
  t.is(readFileSync(path.join(upper, 'usr', 'lib', 'a.so'), 'utf8'), 'A');
  t.deepEqual([so.uid, so.gid, so.mode & 0o7777], [7, 8, 0o640]);
  t.is(readFileSync(path.join(upper, 'opt', 't', 'sub', 'f'), 'utf8'), 'F');
  t.is(readlinkSync(path.join(upper, 'opt', 't', 'link')), 'sub/f');
  t.is(lstatSync(path.join(upper, 'opt', 't', 'sub', 'f')).uid, 0, 'context files become root-owned');
});

test('COPY: a missing source is an error; a wildcard matching nothing copies nothing; several sources onto a file path (BuildKit: last wins)', async (t) => {
  const { upper, view } = layers();
  const ctx = tmpDir();
  writeFileSync(path.join(ctx, 'a'), 'A');
  writeFileSync(path.join(ctx, 'b'), 'B');
  const w = new UpperWriter(upper, view);
  await t.throwsAsync(w.copy(new DirTree(ctx), ['nope'], '/x', {}), { instanceOf: FileOpError, message: '"/nope": not found' });
  await w.copy(new DirTree(ctx), ['*.none'], '/empty/', {});
  t.throws(() => readFileSync(path.join(upper, 'empty')));
  await w.copy(new DirTree(ctx), ['*'], '/many/', {});
  t.deepEqual([readFileSync(path.join(upper, 'many', 'a'), 'utf8'), readFileSync(path.join(upper, 'many', 'b'), 'utf8')], ['A', 'B']);
  await w.copy(new DirTree(ctx), ['a', 'b'], '/onefile', {});
  t.is(readFileSync(path.join(upper, 'onefile'), 'utf8'), 'B');
});

test('a context symlink to a host directory cannot expose host files, even through a wildcard', async (t) => {
  const { upper, view } = layers();
  const ctx = tmpDir();
  const outside = tmpDir();
  writeFileSync(path.join(outside, 'host-secret'), 'host');
  symlinkSync(outside, path.join(ctx, 'linkdir'));
  const w = new UpperWriter(upper, view);
  // linkdir resolves inside the context (chroot semantics), where nothing matches.
  await w.copy(new DirTree(ctx), ['linkdir/*'], '/out/', {});
  t.throws(() => readFileSync(path.join(upper, 'out', 'host-secret')));
  await t.throwsAsync(w.copy(new DirTree(ctx), ['linkdir/host-secret'], '/x', {}), { instanceOf: FileOpError });
});
