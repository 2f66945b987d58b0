// The parsers of buildx's build flags (cmd/runflags.ts, cmd/annotations.ts, cmd/buildcontext.ts) and
// the named-context lookup the frontend uses (builder/namedcontext.ts): the forms docker/buildx accept.
import test from 'ava';
import path from 'node:path';
import { parseAnnotations } from '../../cmd/annotations.js';
import { parseBuildContexts } from '../../cmd/buildcontext.js';
import { execDefaults, parseAddHost, parseShmSize, parseUlimit } from '../../cmd/runflags.js';
import { namedContextLookup } from '../../builder/namedcontext.js';
import { hostPlatform } from '../../common/oci.js';

test('--add-host: HOST:IP, HOST=IP and bracketed IPv6; comma lists', (t) => {
  t.deepEqual(parseAddHost('db:10.0.0.1'), { host: 'db', ip: '10.0.0.1' });
  t.deepEqual(parseAddHost('v6=fd00::1'), { host: 'v6', ip: 'fd00::1' });
  t.deepEqual(parseAddHost('v6:[::1]'), { host: 'v6', ip: '::1' });
  t.deepEqual(execDefaults({ 'add-host': ['a:1.1.1.1,b:2.2.2.2'] }).extraHosts, [{ host: 'a', ip: '1.1.1.1' }, { host: 'b', ip: '2.2.2.2' }]);
});

test('--shm-size and --ulimit as docker reads them', (t) => {
  t.is(parseShmSize('64m'), 64 * 1024 * 1024);
  t.is(parseShmSize('1.5g'), 1.5 * 1024 ** 3);
  t.is(parseShmSize('4096'), 4096);
  t.deepEqual(parseUlimit('nofile=1024'), { name: 'nofile', soft: 1024, hard: 1024 });
  t.deepEqual(parseUlimit('core=0:-1'), { name: 'core', soft: 0, hard: -1 });
  t.throws(() => parseUlimit('core=-1:0'), { message: /soft limit is above the hard limit/ });
  t.deepEqual(execDefaults({}), {}, 'no flags, no settings (and so no change to any cache key)');
});

test('--annotation: manifest by default; type lists; host-platform qualifiers', (t) => {
  const host = hostPlatform();
  t.deepEqual(parseAnnotations(['a=1', 'manifest:b=2=3', 'index-descriptor,manifest:c=4', `manifest[${host.os}/${host.architecture}]:d=5`, 'com.example:colon=6']), {
    manifest: { a: '1', b: '2=3', c: '4', d: '5', 'com.example:colon': '6' },
    indexDescriptor: { c: '4' },
  });
  t.deepEqual(parseAnnotations(['index:i=1', 'manifest-descriptor:m=2']), { index: { i: '1' }, manifestDescriptor: { m: '2' } });
});

test('--build-context values; named contexts are found by their familiar name', (t) => {
  const m = parseBuildContexts(['dir=.', 'img=docker-image://alpine:3.20', 'lay=oci-layout://rel/dir@sha256:abc', 'tagged=oci-layout:///abs/dir:v1', 'docker.io/library/busybox=docker-image://x']);
  t.deepEqual(m.get('dir'), { kind: 'dir', name: 'dir', dir: path.resolve('.') });
  t.deepEqual(m.get('img'), { kind: 'image', ref: 'alpine:3.20' });
  t.deepEqual(m.get('lay'), { kind: 'image', ref: `oci-layout://${path.resolve('rel/dir')}@sha256:abc` });
  t.deepEqual(m.get('tagged'), { kind: 'image', ref: 'oci-layout:///abs/dir:v1' });
  const find = namedContextLookup(m)!;
  t.is(find('img'), m.get('img'));
  t.is(find('busybox'), m.get('docker.io/library/busybox'));
  t.is(find('busybox:latest'), m.get('docker.io/library/busybox'));
  t.is(find('busybox:1.36'), undefined, 'another tag is another image');
  t.is(find('alpine'), undefined);
  t.is(namedContextLookup(new Map()), undefined, 'no contexts: nothing to look up');
});

test('--build-context git and http(s) URLs in buildx\'s forms', (t) => {
  const m = parseBuildContexts([
    'gh=https://github.com/org/repo.git#v1.2:sub/dir',
    'ssh=git@github.com:org/repo.git#main',
    'plain=git://example.com/repo.git',
    'file=https://example.com/dl/ctx.tar.gz',
  ]);
  t.deepEqual(m.get('gh'), { kind: 'remote', name: 'gh', url: 'https://github.com/org/repo.git#v1.2:sub/dir', source: { type: 'git', remote: 'https://github.com/org/repo.git', ref: 'v1.2', subdir: 'sub/dir', keepGitDir: true } });
  t.deepEqual(m.get('ssh'), { kind: 'remote', name: 'ssh', url: 'git@github.com:org/repo.git#main', source: { type: 'git', remote: 'git@github.com:org/repo.git', ref: 'main', keepGitDir: true } });
  t.deepEqual(m.get('plain'), { kind: 'remote', name: 'plain', url: 'git://example.com/repo.git', source: { type: 'git', remote: 'git://example.com/repo.git', keepGitDir: true } });
  // Not a git URL (no .git): the file itself, named as ADD names a download.
  t.deepEqual(m.get('file'), { kind: 'remote', name: 'file', url: 'https://example.com/dl/ctx.tar.gz', source: { type: 'http', url: 'https://example.com/dl/ctx.tar.gz', filename: 'ctx.tar.gz' } });
  for (const bad of ['x=https://', 'x=git://', 'x=git@host:', 'x=s3://bucket/key']) t.throws(() => parseBuildContexts([bad]), { code: 'TSB_USAGE' }, bad);
});
