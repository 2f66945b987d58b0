// Pure parts of the registry client: challenges, credentials files, format conversion, backoff.
import test from 'ava';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseChallenges } from '../../../snapshotter/registry/challenge.js';
import { CredentialStore } from '../../../snapshotter/registry/credentials.js';
import { convertManifest } from '../../../snapshotter/registry/format.js';
import { isLoopback, retryDelay } from '../../../snapshotter/registry/transport.js';
import { MediaType, type Manifest } from '../../../common/oci.js';
import { tmpDir } from '../../helpers/cli.js';

test('WWW-Authenticate: quoted values with commas and escapes, several challenges', (t) => {
  t.deepEqual(parseChallenges('Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push"'), [
    { scheme: 'bearer', params: { realm: 'https://auth.example/token', service: 'registry.example', scope: 'repository:a/b:pull,push' } },
  ]);
  t.deepEqual(parseChallenges('Basic realm="a \\"quoted\\" realm", Bearer realm=x'), [
    { scheme: 'basic', params: { realm: 'a "quoted" realm' } },
    { scheme: 'bearer', params: { realm: 'x' } },
  ]);
});

test('config.json: auths by host with or without scheme, Docker Hub key, store and erase', async (t) => {
  const dir = tmpDir();
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify({
    auths: {
      'https://registry.example/v2/': { auth: Buffer.from('me:se:cret').toString('base64') },
      'https://index.docker.io/v1/': { auth: Buffer.from('hub:pw').toString('base64') },
      'tok.example': { identitytoken: 'refresh-me' },
    },
    other: 'kept',
  }));
  const store = new CredentialStore(dir);
  t.deepEqual(await store.get('registry.example'), { username: 'me', password: 'se:cret' });
  t.deepEqual(await store.get('docker.io'), { username: 'hub', password: 'pw' });
  t.deepEqual(await store.get('tok.example'), { identityToken: 'refresh-me' });
  t.is(await store.get('unknown.example'), undefined);
  await store.store('new.example:5000', 'u', 'p');
  t.deepEqual(await store.get('new.example:5000'), { username: 'u', password: 'p' });
  const saved = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8'));
  t.is(saved.other, 'kept');
  t.true(await store.erase('new.example:5000'));
  t.is(await store.get('new.example:5000'), undefined);
});

test('credential helpers: credHelpers per host over credsStore, via the helper protocol', async (t) => {
  const dir = tmpDir();
  const bin = tmpDir();
  // A helper that answers `get` for one server and logs what it was asked.
  writeFileSync(path.join(bin, 'docker-credential-fake'), `#!/bin/sh\nread server\necho "$1 $server" >> ${bin}/calls\nif [ "$1" = get ] && [ "$server" = helped.example ]; then echo '{"ServerURL":"helped.example","Username":"hu","Secret":"hs"}'; exit 0; fi\nif [ "$1" = get ]; then echo "credentials not found in native keychain"; exit 1; fi\n`);
  chmodSync(path.join(bin, 'docker-credential-fake'), 0o755);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ credHelpers: { 'helped.example': 'fake' }, credsStore: 'fake' }));
  const oldPath = process.env.PATH;
  process.env.PATH = `${bin}:${oldPath}`;
  try {
    const store = new CredentialStore(dir);
    t.deepEqual(await store.get('helped.example'), { username: 'hu', password: 'hs' });
    t.is(await store.get('other.example'), undefined);
    t.regex(readFileSync(path.join(bin, 'calls'), 'utf8'), /get helped\.example\nget other\.example/);
  } finally {
    process.env.PATH = oldPath;
  }
});

test('OCI ↔ Docker manifests: media types mapped, blobs untouched', (t) => {
  const oci: Manifest = {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: { mediaType: MediaType.ociConfig, digest: `sha256:${'c'.repeat(64)}`, size: 10 },
    layers: [{ mediaType: MediaType.ociLayerGzip, digest: `sha256:${'d'.repeat(64)}`, size: 20 }],
  };
  const docker = convertManifest(oci, 'docker')!;
  t.is(docker.mediaType, MediaType.dockerManifest);
  t.is(docker.config.mediaType, MediaType.dockerConfig);
  t.is(docker.layers[0]!.mediaType, MediaType.dockerLayerGzip);
  t.is(docker.layers[0]!.digest, oci.layers[0]!.digest);
  t.deepEqual(convertManifest(docker, 'oci'), oci);
  t.is(convertManifest(oci, 'oci'), undefined, 'no conversion keeps the original bytes');
  const zstd = { ...oci, layers: [{ ...oci.layers[0]!, mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd' }] };
  t.throws(() => convertManifest(zstd, 'docker'), { message: /--format oci/ });
});

test('backoff honours Retry-After, grows and is capped; loopback detection', (t) => {
  t.is(retryDelay(0, 100, '3'), 3000);
  t.true(retryDelay(0, 100, new Date(Date.now() + 2000).toUTCString()) <= 2000);
  const d3 = retryDelay(3, 100);
  t.true(d3 >= 400 && d3 <= 800);
  t.true(retryDelay(20, 100) <= 10_000);
  t.true(isLoopback('127.0.0.1:5000'));
  t.true(isLoopback('localhost'));
  t.true(isLoopback('[::1]:5000'));
  t.false(isLoopback('registry.example:5000'));
});
