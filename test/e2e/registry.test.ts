// Acceptance for the registry client, against the real CNCF registry on loopback: round trips
// checked by digest and by other tools, auth (Basic and token), no re-uploads, mounts, faults.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { copyDir, makeContext, repoRoot, sharedDir, storeWithBusybox, tmpDir, tsbuild, tsbuildOk } from '../helpers/cli.js';
import { startProxy, startRegistry, type RegistryServer } from '../helpers/registry.js';

const stops: Array<() => Promise<void>> = [];
test.after.always(async () => {
  for (const s of stops) await s();
});

async function registry(opts: Parameters<typeof startRegistry>[0] = {}): Promise<Awaited<ReturnType<typeof startRegistry>>> {
  const r = await startRegistry(opts);
  stops.push(() => r.stop());
  return r;
}

async function proxy(target: RegistryServer) {
  const p = await startProxy(target);
  stops.push(() => p.stop());
  return p;
}

/** A store holding the busybox base and a small built image `name`; `id` is its image id (config digest). */
async function storeWithImage(name: string, content = 'payload'): Promise<{ root: string; id: string }> {
  const root = await storeWithBusybox();
  const r = await tsbuildOk(['build', '-q', '-t', name, makeContext({ Dockerfile: `FROM busybox\nRUN echo ${content} > /payload && head -c 300000 /dev/urandom > /random\n` })], { root });
  return { root, id: r.stdout.trim() };
}

const digestOf = (out: string): string => /sha256:[a-f0-9]{64}/.exec(out)?.[0] ?? '';

/** The manifest a registry serves for `name`, as skopeo reads it. */
function registryManifest(name: string): { config: { digest: string }; layers: Array<{ mediaType: string; digest: string }> } {
  return JSON.parse(execFileSync('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${name}`], { encoding: 'utf8', timeout: 60_000 }));
}

test('push then pull: identical digests; skopeo inspect/copy and buildah read the pushed image', async (t) => {
  const reg = await registry();
  const name = `${reg.host}/team/app:1`;
  const { root, id } = await storeWithImage(name);
  const pushed = await tsbuildOk(['push', name], { root });
  const digest = digestOf(pushed.stdout);
  // The local layers are plain tars; the pushed ones gzip, under the same config (image id).
  const served = registryManifest(name);
  t.is(served.config.digest, id);
  t.deepEqual(served.layers.map((l) => l.mediaType), Array(2).fill('application/vnd.oci.image.layer.v1.tar+gzip'));
  const info = JSON.parse(execFileSync('skopeo', ['inspect', '--tls-verify=false', `docker://${name}`], { encoding: 'utf8' }));
  t.is(info.Digest, digest);
  const layout = path.join(tmpDir(), 'copy');
  execFileSync('skopeo', ['copy', '--src-tls-verify=false', `docker://${name}`, `oci:${layout}:copied`], { stdio: 'pipe' });
  t.true(existsSync(path.join(layout, 'index.json')));
  const fresh = tmpDir('tsbuild-root-');
  const pulled = await tsbuildOk(['pull', name], { root: fresh });
  t.is(digestOf(pulled.stdout), digest);
  t.is((await tsbuildOk(['run', name, 'cat', '/payload'], { root: fresh })).stdout, 'payload\n');
  t.is((await tsbuildOk(['inspect', name], { root: fresh })).stdout, (await tsbuildOk(['inspect', name], { root })).stdout);
  const storage = tmpDir('buildah-');
  const out = execFileSync('buildah', ['--root', path.join(storage, 'root'), '--runroot', path.join(storage, 'run'), '--storage-driver=vfs', 'pull', '--tls-verify=false', '-q', name], { encoding: 'utf8' });
  t.regex(out, /^[a-f0-9]{64}$/m);
});

test('--format docker pushes a Docker schema2 manifest that tsbuild and skopeo read back', async (t) => {
  const reg = await registry();
  const { root } = await storeWithImage(`${reg.host}/fmt:oci`);
  await tsbuildOk(['push', '--format', 'docker', `${reg.host}/fmt:oci`, `${reg.host}/fmt:docker`], { root });
  const raw = JSON.parse(execFileSync('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${reg.host}/fmt:docker`], { encoding: 'utf8' }));
  t.is(raw.mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
  t.is(raw.layers[0].mediaType, 'application/vnd.docker.image.rootfs.diff.tar.gzip');
  const fresh = tmpDir('tsbuild-root-');
  await tsbuildOk(['pull', `${reg.host}/fmt:docker`], { root: fresh });
  t.is((await tsbuildOk(['run', `${reg.host}/fmt:docker`, 'cat', '/payload'], { root: fresh })).stdout, 'payload\n');
});

test('w1 builds FROM 127.0.0.1:PORT/busybox on an empty store', async (t) => {
  const reg = await registry();
  const base = await storeWithBusybox();
  await tsbuildOk(['tag', 'busybox:latest', `${reg.host}/busybox:latest`], { root: base });
  await tsbuildOk(['push', `${reg.host}/busybox:latest`], { root: base });
  const ctx = copyDir(path.join(sharedDir, 'bench', 'w1-hello'));
  writeFileSync(path.join(ctx, 'Dockerfile'), readFileSync(path.join(ctx, 'Dockerfile'), 'utf8').replace('localhost:5000/busybox:latest', `${reg.host}/busybox:latest`));
  const empty = tmpDir('tsbuild-root-');
  const r = await tsbuildOk(['build', '--progress=plain', '-t', 'w1:remote', ctx], { root: empty });
  t.regex(r.stderr, new RegExp(`load metadata for ${reg.host.replace(/\./g, '\\.')}/busybox:latest`));
  t.is((await tsbuildOk(['run', 'w1:remote'], { root: empty })).stdout, 'hello\n');
  // A second build uses the stored base: no registry request.
  const again = await tsbuildOk(['build', '--progress=plain', '-t', 'w1:remote', ctx], { root: empty });
  t.notRegex(again.stderr, /load metadata/);
});

test('pushing again uploads no blob; pushing to a second repository mounts instead of uploading', async (t) => {
  const reg = await registry();
  const px = await proxy(reg);
  const name = `${px.host}/first:1`;
  const { root } = await storeWithImage(name);
  await tsbuildOk(['push', name], { root });
  const uploads = (): string[] => px.requests.filter((r) => r.method === 'POST' || r.method === 'PATCH' || (r.method === 'PUT' && r.path.includes('/blobs/'))).map((r) => `${r.method} ${r.path}`);
  t.true(uploads().length >= 2, 'the first push uploads');
  px.clear();
  await tsbuildOk(['push', name], { root });
  t.deepEqual(uploads(), [], 'nothing uploaded the second time');
  t.true(px.requests.some((r) => r.method === 'HEAD' && r.path.includes('/blobs/')));
  px.clear();
  await tsbuildOk(['tag', name, `${px.host}/second:1`], { root });
  await tsbuildOk(['push', `${px.host}/second:1`], { root });
  const posts = px.requests.filter((r) => r.method === 'POST');
  t.true(posts.length >= 2);
  t.true(posts.every((r) => r.path.includes('mount=') && r.path.includes('from=first') && r.status === 201), JSON.stringify(posts));
  t.false(px.requests.some((r) => r.method === 'PATCH' || (r.method === 'PUT' && r.path.includes('/blobs/'))), 'no blob bytes sent');
});

const secret = 's3cret-P@ss';

for (const kind of ['htpasswd', 'token'] as const) {
  test(`${kind} auth: login, push and pull work; a wrong password fails clearly and never prints a secret`, async (t) => {
    const reg = await registry({ auth: { kind, users: { alice: secret } } });
    const dockerConfig = tmpDir('docker-config-');
    const env = { DOCKER_CONFIG: dockerConfig };
    const name = `${reg.host}/private/app:1`;
    const { root } = await storeWithImage(name);

    const anonymous = await tsbuild(['push', name], { root, env });
    t.is(anonymous.code, 1);
    t.regex(anonymous.stderr, new RegExp(`${reg.host.replace(/\./g, '\\.')}`));
    t.regex(anonymous.stderr, /tsbuild login/);

    const wrong = await tsbuild(['login', '-u', 'alice', '--password-stdin', reg.host], { root, env, input: 'not-the-password\n' });
    t.is(wrong.code, 1);
    t.regex(wrong.stderr, /authentication to 127\.0\.0\.1:\d+ failed: incorrect username or password/);
    t.false(wrong.stderr.includes('not-the-password'));
    t.false(existsSync(path.join(dockerConfig, 'config.json')), 'nothing saved for a failed login');

    const login = await tsbuildOk(['login', '-u', 'alice', '--password-stdin', reg.host], { root, env, input: `${secret}\n` });
    t.regex(login.stdout, /Login Succeeded/);
    const saved = JSON.parse(readFileSync(path.join(dockerConfig, 'config.json'), 'utf8'));
    t.is(Buffer.from(saved.auths[reg.host].auth, 'base64').toString(), `alice:${secret}`);

    const pushed = await tsbuildOk(['push', '--progress=json', name], { root, env });
    const digest = digestOf(pushed.stdout);
    t.regex(digest, /^sha256:/);
    t.false(pushed.stderr.includes(secret) || pushed.stdout.includes(secret));
    const fresh = tmpDir('tsbuild-root-');
    t.is(digestOf((await tsbuildOk(['pull', name], { root: fresh, env })).stdout), digest);
    if (reg.token) {
      t.true(reg.token.requests.some((r) => r.user === 'alice' && r.scopes.some((s) => s.endsWith(':pull,push'))));
    }
    await tsbuildOk(['logout', reg.host], { root, env });
    t.is((await tsbuild(['pull', name], { root: tmpDir('tsbuild-root-'), env })).code, 1);
  });
}

test('faults: 5xx, 429 with Retry-After, resets and truncated bodies are retried; push and pull succeed', async (t) => {
  const reg = await registry();
  const px = await proxy(reg);
  const name = `${px.host}/flaky:1`;
  const { root, id } = await storeWithImage(name, 'flaky');
  px.addFaults(
    { method: 'HEAD', path: /\/blobs\//, times: 2, fault: { kind: 'status', status: 503 } },
    { method: 'POST', path: /\/blobs\/uploads\//, times: 1, fault: { kind: 'status', status: 500 } },
    { method: 'PUT', path: /\/manifests\//, times: 1, fault: { kind: 'status', status: 429, headers: { 'retry-after': '1' } } },
    // An upload that fails at its last step restarts from a new session.
    { method: 'PUT', path: /\/blobs\/uploads\//, times: 1, fault: { kind: 'status', status: 500 } },
  );
  const digest = digestOf((await tsbuildOk(['push', name], { root })).stdout);
  t.is(registryManifest(`${reg.host}/flaky:1`).config.digest, id);
  t.true(px.requests.filter((r) => r.method === 'POST').length >= 3, 'the failed upload started over');
  px.clear();
  px.addFaults(
    { method: 'GET', path: /\/manifests\//, times: 1, fault: { kind: 'status', status: 502 } },
    { method: 'GET', path: /\/blobs\//, times: 1, fault: { kind: 'reset' } },
    { method: 'GET', path: /\/blobs\//, times: 1, fault: { kind: 'truncate' } },
  );
  const fresh = tmpDir('tsbuild-root-');
  t.is(digestOf((await tsbuildOk(['pull', name], { root: fresh })).stdout), digest);
  t.is((await tsbuildOk(['run', name, 'cat', '/payload'], { root: fresh })).stdout, 'flaky\n');
  t.true(px.requests.some((r) => r.fault === 'reset') && px.requests.some((r) => r.fault === 'truncate'));
});

test('a large layer goes up in chunks and comes back identical', async (t) => {
  const reg = await registry();
  const px = await proxy(reg);
  const name = `${px.host}/large:1`;
  const root = await storeWithBusybox();
  // 20 MB of random data: above the 16 MiB monolithic limit, and incompressible.
  const built = await tsbuildOk(['build', '-q', '-t', name, makeContext({ Dockerfile: 'FROM busybox\nRUN head -c 20000000 /dev/urandom > /big\n' })], { root });
  const digest = digestOf((await tsbuildOk(['push', name], { root })).stdout);
  t.is(registryManifest(`${reg.host}/large:1`).config.digest, built.stdout.trim());
  const patches = px.requests.filter((r) => r.method === 'PATCH');
  t.is(patches.length, 2);
  t.true(patches.every((p) => p.status === 202 && p.bytesIn > 0));
  const fresh = tmpDir('tsbuild-root-');
  t.is(digestOf((await tsbuildOk(['pull', name], { root: fresh })).stdout), digest);
  const sum = (r: string) => tsbuildOk(['run', name, 'md5sum', '/big'], { root: r }).then((x) => x.stdout);
  t.is(await sum(fresh), await sum(root));
});

test('a blob with a wrong digest is never stored or tagged', async (t) => {
  const reg = await registry();
  const px = await proxy(reg);
  const name = `${px.host}/corrupt:1`;
  const { root } = await storeWithImage(name, 'corrupt');
  await tsbuildOk(['push', name], { root });
  px.addFaults({ method: 'GET', path: /\/blobs\//, times: 1000, fault: { kind: 'corrupt' } });
  const fresh = tmpDir('tsbuild-root-');
  const r = await tsbuild(['pull', name], { root: fresh });
  t.is(r.code, 1);
  t.regex(r.stderr, /does not match its digest/);
  t.notRegex(r.stderr, /\n\s+at .+:\d+:\d+/);
  t.notRegex((await tsbuildOk(['images'], { root: fresh })).stdout, /corrupt/);
  // Whatever is in the store hashes to its name.
  for (const b of readdirSync(path.join(fresh, 'blobs', 'sha256'))) {
    const actual = execFileSync('sha256sum', [path.join(fresh, 'blobs', 'sha256', b)], { encoding: 'utf8' }).split(' ')[0];
    t.is(actual, b);
  }
});

test('TLS registry: trusted through --registry-ca; without it a clear error', async (t) => {
  const reg = await registry({ tls: true });
  const name = `${reg.host}/tls:1`;
  const { root } = await storeWithImage(name);
  const untrusted = await tsbuild(['push', name], { root });
  t.is(untrusted.code, 1);
  t.regex(untrusted.stderr, /--registry-ca/);
  const digest = digestOf((await tsbuildOk(['push', '--registry-ca', reg.caPath!, name], { root })).stdout);
  t.regex(digest, /^sha256:/);
  const fresh = tmpDir('tsbuild-root-');
  t.is(digestOf((await tsbuildOk(['pull', '--registry-ca', reg.caPath!, name], { root: fresh })).stdout), digest);
});

test('build --push pushes every tag; a push without a registry name is a usage error', async (t) => {
  const reg = await registry();
  const root = await storeWithBusybox();
  const ctx = makeContext({ Dockerfile: 'FROM busybox\nRUN echo built > /b\n' });
  const r = await tsbuildOk(['build', '-t', `${reg.host}/built:a`, '-t', `${reg.host}/built:b`, '--push', ctx], { root });
  const id = /writing image (sha256:[a-f0-9]{64})/.exec(r.stderr)?.[1];
  for (const tag of ['a', 'b']) t.is(registryManifest(`${reg.host}/built:${tag}`).config.digest as string | undefined, id);
  const noTag = await tsbuild(['build', '--push', ctx], { root });
  t.is(noTag.code, 1);
  t.regex(noTag.stderr, /--push needs a name/);
  void repoRoot;
});
