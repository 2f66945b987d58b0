// The error model end to end (DESIGN §7, docs/errors.md): each kind of bad input fails with its
// stable code (also as a JSON line under --progress=json), a hint, and no "bug" wording or stack.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { ErrorCodes } from '../../common/errors.js';
import { makeContext, repoRoot, sharedStore, tmpDir, tsbuild } from '../helpers/cli.js';

const root = sharedStore();

interface Failure {
  code: string;
  hint?: string;
}

async function failsWith(t: import('ava').ExecutionContext, args: string[], code: string, env: NodeJS.ProcessEnv = {}): Promise<string> {
  const r = await tsbuild([...args, '--progress=json'], { root: await root(), env });
  t.is(r.code, 1, r.stderr);
  const line = r.stderr.split('\n').find((l) => l.startsWith('{"type":"error"'));
  t.truthy(line, `a JSON error line:\n${r.stderr}`);
  const err = (JSON.parse(line!) as { error: Failure }).error;
  t.is(err.code, code, r.stderr);
  t.truthy(err.hint, `a hint for ${code}`);
  t.regex(r.stderr, /\nhint: /);
  t.notRegex(r.stderr, /bug in tsbuild|\n\s+at /, 'no bug wording, no stack trace');
  return r.stderr;
}

test('a bad flag is TSB_USAGE', async (t) => {
  await failsWith(t, ['build', '--output', 'type=nosuch', makeContext({ Dockerfile: 'FROM busybox\n' })], 'TSB_USAGE');
});

test('an unknown instruction is a located Dockerfile error', async (t) => {
  const err = await failsWith(t, ['build', makeContext({ Dockerfile: 'FROM busybox\nFROB x\n' })], 'TSB_DOCKERFILE_INVALID');
  t.regex(err, /Dockerfile:2/);
});

test('a COPY source missing from the context is TSB_CONTEXT', async (t) => {
  const err = await failsWith(t, ['build', makeContext({ Dockerfile: 'FROM busybox\nCOPY nothere /x\n' })], 'TSB_CONTEXT');
  t.regex(err, /Dockerfile:2/);
});

test('a failing RUN is TSB_RUN_FAILED', async (t) => {
  await failsWith(t, ['build', makeContext({ Dockerfile: 'FROM busybox\nRUN exit 7\n' })], 'TSB_RUN_FAILED');
});

test('a missing required secret is TSB_MOUNT', async (t) => {
  await failsWith(t, ['build', makeContext({ Dockerfile: 'FROM busybox\nRUN --mount=type=secret,id=tok,required=true true\n' })], 'TSB_MOUNT');
});

test('an ADD of a tar with an entry outside the target is TSB_ARCHIVE_UNSAFE', async (t) => {
  const ctx = makeContext({ Dockerfile: 'FROM busybox\nADD evil.tar /x/\n' });
  execFileSync('python3', ['-c', `
import tarfile, io, sys
with tarfile.open(sys.argv[1], 'w') as tar:
    data = b'pwned'
    i = tarfile.TarInfo('../../escape'); i.size = len(data)
    tar.addfile(i, io.BytesIO(data))
`, path.join(ctx, 'evil.tar')]);
  await failsWith(t, ['build', ctx], 'TSB_ARCHIVE_UNSAFE');
});

test('a base image whose manifest matches its digest but is malformed is TSB_IMAGE_INVALID', async (t) => {
  const layout = tmpDir();
  mkdirSync(path.join(layout, 'blobs', 'sha256'), { recursive: true });
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: 'sha256:nothex', size: 2 }, layers: 'none' }));
  const digest = createHash('sha256').update(manifest).digest('hex');
  writeFileSync(path.join(layout, 'blobs', 'sha256', digest), manifest);
  writeFileSync(path.join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(path.join(layout, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${digest}`, size: manifest.length }] }));
  const err = await failsWith(t, ['build', makeContext({ Dockerfile: `FROM oci-layout://${layout}\n` })], 'TSB_IMAGE_INVALID');
  t.regex(err, new RegExp(`sha256:${digest}: config.digest`));
});

test('an unreachable registry is TSB_REGISTRY', async (t) => {
  // Port 9 on loopback: nothing listens (discard is not run here), so the connection is refused.
  await failsWith(t, ['pull', '127.0.0.1:9/nothing/here:1'], 'TSB_REGISTRY');
});

test('every error code is documented in docs/errors.md', (t) => {
  const doc = readFileSync(path.join(repoRoot, 'docs', 'errors.md'), 'utf8');
  for (const code of Object.keys(ErrorCodes)) t.true(doc.includes(`\`${code}\``), `${code} is in docs/errors.md`);
});
