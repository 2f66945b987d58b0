// Hostile and malformed archives end to end: each refusal is a user error with a stable code that
// names the archive, the entry and the Dockerfile line (or the image and layer digest), with a hint.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
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
