// --annotation as buildx: manifest annotations (the default) in the pushed and archived manifest,
// manifest-descriptor ones on the image's entry in an OCI layout's index.json (where BuildKit's
// single-platform writer puts them), read back by skopeo; index levels, which need an image index
// this build does not make, and bad specs are clear usage errors.
import test from 'ava';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { makeContext, sharedStore, tmpDir, tsbuild, tsbuildOk } from '../helpers/cli.js';
import { startRegistry } from '../helpers/registry.js';

const execFileP = promisify(execFile);
const root = sharedStore();
const stops: Array<() => Promise<void>> = [];
test.after.always(async () => {
  for (const s of stops) await s();
});

const skopeoRaw = async (ref: string): Promise<{ annotations?: Record<string, string> }> => JSON.parse((await execFileP('skopeo', ['inspect', '--raw', '--tls-verify=false', ref])).stdout);

test('manifest annotations are in the pushed manifest and the OCI archives, manifest-descriptor ones in index.json only', async (t) => {
  const reg = await startRegistry();
  stops.push(() => reg.stop());
  const ctx = makeContext({ Dockerfile: 'FROM busybox\nRUN echo annotated > /a\n' });
  const out = tmpDir();
  const layout = path.join(out, 'layout');
  const name = `${reg.host}/annotated:1`;
  const r = await tsbuildOk(['build', '-q', '-t', name, '--push', '--provenance=false',
    '--annotation', 'org.opencontainers.image.title=Annotated',
    '--annotation', 'manifest:org.opencontainers.image.vendor=tsbuild tests',
    '--annotation', 'manifest-descriptor:org.opencontainers.image.description=in index.json',
    '--annotation', 'manifest,manifest-descriptor:both=yes',
    '-o', `type=oci,tar=false,dest=${layout}`, '-o', `type=oci,dest=${path.join(out, 'image.tar')}`, '-o', `type=docker,dest=${path.join(out, 'docker.tar')}`, ctx], { root: await root() });
  const manifestAnnotations = { 'org.opencontainers.image.title': 'Annotated', 'org.opencontainers.image.vendor': 'tsbuild tests', both: 'yes' };
  t.deepEqual((await skopeoRaw(`docker://${name}`)).annotations, manifestAnnotations);
  t.deepEqual((await skopeoRaw(`oci:${layout}`)).annotations, manifestAnnotations);
  t.deepEqual((await skopeoRaw(`oci-archive:${path.join(out, 'image.tar')}`)).annotations, manifestAnnotations);
  const index = JSON.parse(readFileSync(path.join(layout, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string; annotations: Record<string, string> }> };
  // -q prints the image id (config digest); the outputs hold the gzip form's manifest, the same in each.
  const manifestDigest = index.manifests[0]!.digest;
  t.is((await skopeoRaw(`oci:${layout}`) as { config?: { digest: string } }).config?.digest, r.stdout.trim());
  // docker load's archive holds the same manifest (skopeo's docker-archive: rebuilds one, so read the blob).
  const listing = (await execFileP('tar', ['-xOf', path.join(out, 'docker.tar'), `blobs/sha256/${manifestDigest.slice(7)}`])).stdout;
  t.deepEqual(JSON.parse(listing).annotations, manifestAnnotations);
  const dockerIndex = JSON.parse((await execFileP('tar', ['-xOf', path.join(out, 'docker.tar'), 'index.json'])).stdout) as { manifests: Array<{ annotations: Record<string, string> }> };
  t.is(dockerIndex.manifests[0]!.annotations.both, 'yes');
  t.is(index.manifests.length, 1);
  t.is((await skopeoRaw(`docker://${name}`) as { config?: { digest: string } }).config?.digest, r.stdout.trim(), 'the pushed manifest is of the same image');
  t.is(index.manifests[0]!.annotations['org.opencontainers.image.description'], 'in index.json');
  t.is(index.manifests[0]!.annotations.both, 'yes');
  t.is(index.manifests[0]!.annotations['io.containerd.image.name'], name, 'the name annotations stay');
  t.is(index.manifests[0]!.annotations['org.opencontainers.image.title'], undefined, 'manifest annotations stay in the manifest');

  // The image id (config digest) does not depend on annotations; the manifest digest does.
  const iid = path.join(out, 'iid');
  const plainLayout = path.join(out, 'plain');
  const plain = await tsbuildOk(['build', '-q', '--iidfile', iid, '-o', `type=oci,tar=false,dest=${plainLayout}`, ctx], { root: await root() });
  t.is(plain.stdout.trim(), r.stdout.trim());
  t.is(readFileSync(iid, 'utf8'), r.stdout.trim());
  const plainIndex = JSON.parse(readFileSync(path.join(plainLayout, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
  t.not(plainIndex.manifests[0]!.digest, manifestDigest);
});

test('levels the build does not make and malformed annotations are usage errors', async (t) => {
  const ctx = makeContext({ Dockerfile: 'FROM busybox\n' });
  const cases: Array<[string[], RegExp, RegExp]> = [
    [['--annotation', 'index:k=v'], /--annotation index:…: index annotations not supported for single platform export/, /manifest:KEY=VALUE/],
    [['--annotation', 'index-descriptor:k=v'], /--annotation index-descriptor:…: index annotations not supported for single platform export/, /manifest-descriptor:KEY=VALUE/],
    [['--annotation', 'manifest,index:k=v', '-o', 'type=oci,dest=/dev/null'], /index annotations not supported/, /no image index/],
    [['--annotation', 'novalue'], /--annotation "novalue" needs KEY=VALUE/, /TYPE:KEY=VALUE/],
    [['--annotation', 'nonsense:k=v'], /unknown type "nonsense"/, /manifest, index, manifest-descriptor, index-descriptor/],
    [['--annotation', 'manifest[linux/s390x]:k=v'], /\[linux\/s390x\] matches nothing/, /leave the platform out/],
  ];
  for (const [flags, message, hint] of cases) {
    const r = await tsbuild(['build', ...flags, ctx], { root: await root() });
    t.is(r.code, 1, flags.join(' '));
    t.regex(r.stderr, message, flags.join(' '));
    t.regex(r.stderr, hint, flags.join(' '));
  }
});
