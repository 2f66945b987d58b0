// Archives end to end: each refusal of a hostile or malformed one is a user error with a stable code
// that names the archive, the entry and the Dockerfile line (or the image and layer digest), with a
// hint; GNU sparse files unpack as sparse files.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { makeContext, sharedStore, tmpDir, tsbuild } from '../helpers/cli.js';

const root = sharedStore();

interface Failure {
  code: string;
  kind: string;
  message: string;
  hint?: string;
  location?: { file: string; startLine: number };
}

async function fails(t: import('ava').ExecutionContext, ctx: string, code: string): Promise<{ err: Failure; stderr: string }> {
  const r = await tsbuild(['build', ctx, '--progress=json'], { root: await root() });
  t.is(r.code, 1, r.stderr);
  const line = r.stderr.split('\n').find((l) => l.startsWith('{"type":"error"'));
  t.truthy(line, r.stderr);
  const err = (JSON.parse(line!) as { error: Failure }).error;
  t.is(err.code, code, r.stderr);
  t.is(err.kind, 'user');
  t.truthy(err.hint);
  t.notRegex(r.stderr, /bug in tsbuild|\n\s+at /, 'no bug wording, no stack trace');
  return { err, stderr: r.stderr };
}

/** A tar made by Python's tarfile from a small script (members added to `tar`). */
function pyTar(file: string, body: string): void {
  execFileSync('python3', ['-c', `import tarfile, io, sys\nwith tarfile.open(sys.argv[1], 'w', format=tarfile.GNU_FORMAT) as tar:\n${body.replace(/^/gm, '    ')}\n`, file]);
}

/** A member `name` holding `size` bytes of `fill`. */
const FILE = (name: string, size = 1, fill = 'x') => `i = tarfile.TarInfo(${JSON.stringify(name)}); i.size = ${size}; tar.addfile(i, io.BytesIO(b${JSON.stringify(fill)} * ${size}))`;

// ADD on line 3 every time, so the location is checked as well as the names.
const DOCKERFILE = 'FROM scratch\nENV A=1\nADD evil.tar /x/\n';

function context(make: (file: string) => void): string {
  const ctx = makeContext({ Dockerfile: DOCKERFILE });
  make(path.join(ctx, 'evil.tar'));
  return ctx;
}

/** Edits a header field of the tar in place and fixes that header's checksum. */
function patchHeader(file: string, headerIndex: number, offset: number, bytes: Buffer, fixChecksum = true): void {
  const b = readFileSync(file);
  const h = b.subarray(headerIndex * 512, headerIndex * 512 + 512);
  bytes.copy(h, offset);
  if (fixChecksum) {
    h.fill(0x20, 148, 156);
    let sum = 0;
    for (const x of h) sum += x;
    h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  }
  writeFileSync(file, b);
}

const cases: Array<{ name: string; code: string; make: (f: string) => void; entry: RegExp; reason: RegExp }> = [
  { name: 'a path that climbs out', code: 'TSB_ARCHIVE_UNSAFE', make: (f) => pyTar(f, FILE('../../escape')), entry: /entry "\.\.\/\.\.\/escape"/, reason: /outside the target/ },
  {
    name: 'a hardlink to outside', code: 'TSB_ARCHIVE_UNSAFE',
    make: (f) => pyTar(f, `${FILE('ok')}\ni = tarfile.TarInfo('h'); i.type = tarfile.LNKTYPE; i.linkname = '../../etc/passwd'; tar.addfile(i)`),
    entry: /entry "h"/, reason: /hardlink target "\.\.\/\.\.\/etc\/passwd" is outside/,
  },
  {
    name: 'a bad header checksum', code: 'TSB_ARCHIVE_INVALID',
    make: (f) => { pyTar(f, `${FILE('first')}\n${FILE('second')}`); patchHeader(f, 2, 0, Buffer.from('X'), false); },
    entry: /after entry "first"/, reason: /checksum/,
  },
  {
    name: 'a truncated body', code: 'TSB_ARCHIVE_INVALID',
    make: (f) => { pyTar(f, FILE('big', 5000, 'y')); writeFileSync(f, readFileSync(f).subarray(0, 512 + 2000)); },
    entry: /entry "big"/, reason: /truncated/,
  },
  {
    name: 'an absurd base-256 size', code: 'TSB_ARCHIVE_INVALID',
    make: (f) => { pyTar(f, FILE('huge')); patchHeader(f, 0, 124, Buffer.from([0x80, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])); },
    entry: /at its first entry/, reason: /size field out of range/,
  },
  {
    name: 'a negative base-256 uid', code: 'TSB_ARCHIVE_INVALID',
    make: (f) => { pyTar(f, FILE('neg')); patchHeader(f, 0, 108, Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe])); },
    entry: /at its first entry/, reason: /negative uid/,
  },
  {
    name: 'a bad PAX record', code: 'TSB_ARCHIVE_INVALID',
    make: (f) => {
      execFileSync('python3', ['-c', `import tarfile, io, sys
with tarfile.open(sys.argv[1], 'w', format=tarfile.PAX_FORMAT) as tar:
    i = tarfile.TarInfo('p'); i.size = 1; i.pax_headers = {'comment': 'zz'}; tar.addfile(i, io.BytesIO(b'x'))
`, f]);
      const b = readFileSync(f);
      const at = b.indexOf('comment=zz');
      b.write('9', at - 3, 'latin1'); // the record's length no longer matches
      writeFileSync(f, b);
    },
    entry: /at its first entry/, reason: /malformed PAX record/,
  },
];

for (const c of cases) {
  test(`ADD of an archive with ${c.name} is ${c.code}, naming the archive, the entry and the line`, async (t) => {
    const { err, stderr } = await fails(t, context(c.make), c.code);
    t.regex(err.message, /ADD archive "evil\.tar"/);
    t.regex(err.message, c.entry);
    t.regex(err.message, c.reason);
    t.is(err.location?.startLine, 3);
    t.regex(stderr, /Dockerfile:3/);
  });
}

test('ADD of a truncated .tar.gz is TSB_ARCHIVE_INVALID, not a crash', async (t) => {
  const ctx = makeContext({ Dockerfile: 'FROM scratch\nENV A=1\nADD evil.tgz /x/\n' });
  const tar = path.join(ctx, 'evil.tar');
  pyTar(tar, FILE('data', 200_000, 'z'));
  const gz = gzipSync(readFileSync(tar));
  writeFileSync(path.join(ctx, 'evil.tgz'), gz.subarray(0, gz.length - 40));
  const { err } = await fails(t, ctx, 'TSB_ARCHIVE_INVALID');
  t.regex(err.message, /ADD archive "evil\.tgz": .*cannot be read: unexpected end of file/);
  t.is(err.location?.startLine, 3);
});

test('a pulled layer that climbs out is TSB_ARCHIVE_UNSAFE, naming the image and the layer digest', async (t) => {
  const layout = tmpDir();
  const blobs = path.join(layout, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  const put = (b: Buffer): string => {
    const d = createHash('sha256').update(b).digest('hex');
    writeFileSync(path.join(blobs, d), b);
    return `sha256:${d}`;
  };
  const layerFile = path.join(layout, 'layer.tar');
  pyTar(layerFile, `${FILE('fine')}\n${FILE('../../../../tmp/owned')}`);
  const layer = readFileSync(layerFile);
  const layerDigest = put(layer);
  const config = Buffer.from(JSON.stringify({ architecture: process.arch === 'arm64' ? 'arm64' : 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [layerDigest] } }));
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: put(config), size: config.length },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: layerDigest, size: layer.length }],
  }));
  const md = put(manifest);
  writeFileSync(path.join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(path.join(layout, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: md, size: manifest.length }] }));
  const ctx = makeContext({ Dockerfile: `FROM oci-layout://${layout}\nCOPY a /a\n`, a: 'a' });
  const { err } = await fails(t, ctx, 'TSB_ARCHIVE_UNSAFE');
  t.regex(err.message, new RegExp(`layer ${layerDigest} of image oci-layout://`));
  t.regex(err.message, /entry "\.\.\/\.\.\/\.\.\/\.\.\/tmp\/owned"/);
});

test('ADD of GNU tar sparse archives (old GNU and PAX 1.0) gives the real file, sparse in the snapshot', async (t) => {
  const ctx = makeContext({ Dockerfile: 'FROM busybox\nADD gnu.tar /gnu/\nADD pax.tar /pax/\n' });
  const src = path.join(ctx, 'src');
  mkdirSync(src);
  const file = path.join(src, 'sparse.bin');
  const size = 256 << 20;
  execFileSync('truncate', ['-s', String(size), file]);
  for (const [off, text] of [[0, 'HEAD'], [100_000_007, 'MIDDLE'], [size - 4, 'TAIL']] as const) {
    execFileSync('dd', [`of=${file}`, 'bs=1', `seek=${off}`, 'conv=notrunc', 'status=none'], { input: text });
  }
  const want = execFileSync('sha256sum', [file], { encoding: 'utf8' }).split(' ')[0];
  execFileSync('tar', ['-C', src, '--sparse', '--format=gnu', '-cf', path.join(ctx, 'gnu.tar'), 'sparse.bin']);
  execFileSync('tar', ['-C', src, '--sparse', '--format=pax', '--sparse-version=1.0', '-cf', path.join(ctx, 'pax.tar'), 'sparse.bin']);
  execFileSync('rm', ['-r', src]);
  const store = await root();
  const built = await tsbuild(['build', '-q', '-t', 'sparse:1', ctx], { root: store });
  t.is(built.code, 0, built.stderr);
  const out = await tsbuild(['run', 'sparse:1', 'sh', '-c', 'for d in gnu pax; do ls /$d; stat -c %s /$d/sparse.bin; sha256sum < /$d/sparse.bin; dd if=/$d/sparse.bin bs=1 skip=100000007 count=6 2>/dev/null; echo; done'], { root: store });
  t.is(out.stdout, ['gnu', 'pax'].map(() => `sparse.bin\n${size}\n${want}  -\nMIDDLE\n`).join(''), out.stderr);
  // In the store the ADD's snapshot holds the file with its holes.
  const snaps = path.join(store, 'snapshots');
  let found = 0;
  for (const d of readdirSync(snaps)) {
    for (const dir of ['gnu', 'pax']) {
      const f = path.join(snaps, d, 'fs', dir, 'sparse.bin');
      if (!existsSync(f)) continue;
      found++;
      const st = statSync(f);
      t.is(st.size, size);
      t.true(st.blocks * 512 < 1 << 20, `${dir}: ${st.blocks * 512} bytes allocated for ${size}`);
    }
  }
  t.is(found, 2);
});
