// COPY and ADD beyond the basics: heredoc files, --exclude, --parents, symbolic --chmod, --link,
// ADD archives (gzip, bzip2; not a tar inside → copied), --chown on unpacked files, ADD URL --checksum.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { makeContext, runSh, sharedStore, tmpDir, tsbuild, tsbuildOk } from '../helpers/cli.js';
import { compareLayerReaders } from '../helpers/layers.js';
import { setXattr } from '../../native/fsops.js';

const root = sharedStore();
const run = async (image: string, script: string): Promise<string> => runSh(await root(), image, script);

test('COPY heredocs (expanded unless the delimiter is quoted), --exclude, --parents, symbolic --chmod, --link', async (t) => {
  const ctx = makeContext({
    Dockerfile: [
      'FROM busybox',
      'ARG NAME=world',
      'COPY <<EOF /greeting.txt',
      'hello ${NAME}',
      'EOF',
      'COPY <<"EOF" /literal.txt',
      'no ${NAME} expansion',
      'EOF',
      'COPY --exclude=*.test.js app/src /src',
      'COPY --parents a/./b/c.txt /parents/',
      'COPY --chmod=u=rwX,go=rX app/docs /docs',
      'COPY --link app/docs/readme.md /linked.md',
      '',
    ].join('\n'),
    'app/src/main.js': 'main',
    'app/src/skip.test.js': 'skip',
    'app/docs/readme.md': 'doc',
    'a/b/c.txt': 'deep',
  });
  await tsbuildOk(['build', '-t', 'copyadd:copy', ctx], { root: await root() });
  t.is(await run('copyadd:copy', 'cat /greeting.txt /literal.txt; ls /src; find /parents -type f; stat -c "%a" /docs /docs/readme.md; cat /linked.md'),
    'hello world\nno ${NAME} expansion\nmain.js\n/parents/b/c.txt\n755\n644\ndoc');
});

test('ADD unpacks local tar archives (gzip, bzip2), copies other files as they are; unpacked files keep the archive owners under --chown (as BuildKit)', async (t) => {
  const ctx = makeContext({ Dockerfile: 'FROM busybox\nADD pkg.tar.gz /gz/\nADD pkg.tar.bz2 /bz2\nADD plain.gz /plain/\nADD --chown=65534:65534 pkg.tar.gz /owned/\n' });
  const tree = path.join(ctx, 't');
  mkdirSync(path.join(tree, 'inner'), { recursive: true });
  writeFileSync(path.join(tree, 'inner', 'f.txt'), 'intar\n');
  execFileSync('tar', ['-czf', path.join(ctx, 'pkg.tar.gz'), '-C', tree, '.']);
  execFileSync('tar', ['-cjf', path.join(ctx, 'pkg.tar.bz2'), '-C', tree, '.']);
  execFileSync('sh', ['-c', `echo notar | gzip > ${path.join(ctx, 'plain.gz')}`]);
  await tsbuildOk(['build', '-t', 'copyadd:add', ctx], { root: await root() });
  t.is(await run('copyadd:add', 'cat /gz/inner/f.txt /bz2/inner/f.txt; ls /plain; stat -c "%u" /owned/inner/f.txt'), 'intar\nintar\nplain.gz\n0\n');
});

test('ADD URL: downloaded with mode 0600, verified by --checksum; a wrong checksum fails clearly', async (t) => {
  const body = 'served over http\n';
  const server = createServer((_req, res) => {
    res.setHeader('last-modified', new Date(Date.UTC(2020, 0, 2)).toUTCString());
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  try {
    const sum = `sha256:${createHash('sha256').update(body).digest('hex')}`;
    const ok = makeContext({ Dockerfile: `FROM busybox\nADD --checksum=${sum} http://127.0.0.1:${port}/files/data.txt /downloads/\n` });
    await tsbuildOk(['build', '-t', 'copyadd:url', ok], { root: await root() });
    t.is(await run('copyadd:url', 'cat /downloads/data.txt; stat -c "%a %Y" /downloads/data.txt'), `${body}600 1577923200\n`);
    const bad = makeContext({ Dockerfile: `FROM busybox\nADD --checksum=sha256:${'0'.repeat(64)} http://127.0.0.1:${port}/files/data.txt /x\n` });
    const r = await tsbuild(['build', bad], { root: await root() });
    t.is(r.code, 1);
    t.regex(r.stderr, /checksum mismatch/);
    const copyUrl = await tsbuild(['build', makeContext({ Dockerfile: `FROM busybox\nCOPY http://127.0.0.1:${port}/x /x\n` })], { root: await root() });
    t.regex(copyUrl.stderr, /COPY cannot copy from a URL/);
  } finally {
    server.close();
  }
});

test('layers with long and non-ASCII names, hardlinks, devices, whiteouts, opaque dirs and xattrs read the same through tar-stream', async (t) => {
  const long = `d/${'l'.repeat(120)}/sub/${'f'.repeat(200)}`;
  const ctx = makeContext({
    Dockerfile: [
      'FROM busybox',
      'ADD xattrs.tar /x/',
      `RUN mkdir -p $(dirname /${long}) && echo x > /${long} && ln /${long} /hard && chmod 4755 /hard && ln -s /${long} /sym && mkfifo /fifo && mknod /null c 1 3 && echo u > /héllo-ünï && chown -h 1000000:1000001 /sym && rm /bin/ls`,
      'RUN rm -rf /d && mkdir /d && echo n > /d/n',
      '',
    ].join('\n'),
  });
  // An archive whose file has a user and a capability xattr: ADD keeps them, so its layer has PAX xattr records.
  const src = tmpDir();
  writeFileSync(path.join(src, 'capped'), 'x');
  setXattr(path.join(src, 'capped'), 'user.note', Buffer.from('note'));
  setXattr(path.join(src, 'capped'), 'security.capability', Buffer.from('01000002ff000000000000000000000000000000', 'hex'));
  execFileSync('tar', ['--xattrs', '--xattrs-include=*', '-cf', path.join(ctx, 'xattrs.tar'), '-C', src, 'capped']);
  await tsbuildOk(['build', '-t', 'copyadd:layers', ctx], { root: await root() });

  const { layers, differences, entries } = await compareLayerReaders(await root());
  t.true(layers >= 4);
  t.deepEqual(differences, []);
  // The layers hold what they are meant to, so the comparison covered it.
  const has = (what: string, ok: (e: (typeof entries)[number]) => boolean): void => {
    t.true(entries.some(ok), what);
  };
  has('a path over 255 bytes', (e) => e.name === long);
  has('a hardlink', (e) => e.type === 'hardlink' && e.name === 'hard' && e.linkname === long);
  has('a setuid file', (e) => e.mode === 0o4755);
  has('a symlink with big owners', (e) => e.type === 'symlink' && e.uid === 1000000 && e.gid === 1000001);
  has('a fifo', (e) => e.type === 'fifo');
  has('a char device', (e) => e.type === 'char' && e.dev === '1:3');
  has('a non-ASCII name', (e) => e.name === 'héllo-ünï');
  has('a whiteout', (e) => e.name === 'bin/.wh.ls');
  has('an opaque dir', (e) => e.name === 'd/.wh..wh..opq');
  has('xattrs', (e) => e.name === 'x/capped' && e.xattrs.join() === 'security.capability,user.note');
});
