// Every --output type, each read back by another tool: skopeo for OCI layouts and docker archives,
// umoci for unpacking, tar for the filesystem tar, the file tree for local; and with
// SOURCE_DATE_EPOCH, byte-identical archives from two store roots.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { cliPath, makeContext, tmpDir, tsbuild, tsbuildOk } from '../helpers/cli.js';

/** FROM scratch with a static busybox: the same inputs on any store give the same image. */
function context(): string {
  const ctx = makeContext({
    Dockerfile: [
      'FROM scratch',
      'COPY busybox /bin/busybox',
      'RUN ["/bin/busybox", "sh", "-c", "/bin/busybox mkdir -p /data && echo hello > /data/hello && /bin/busybox chmod 0750 /data/hello && echo gone > /data/gone"]',
      'RUN ["/bin/busybox", "rm", "/data/gone"]',
      'CMD ["/bin/busybox", "cat", "/data/hello"]',
      '',
    ].join('\n'),
  });
  execFileSync('cp', ['/bin/busybox', path.join(ctx, 'busybox')]);
  return ctx;
}

const sha = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');
const skopeo = (ref: string): { Layers: string[]; Env?: string[] } => JSON.parse(execFileSync('skopeo', ['inspect', ref], { encoding: 'utf8' })) as { Layers: string[] };

test('type=docker and type=oci (tar and directory) are read by skopeo and umoci', async (t) => {
  const root = tmpDir('tsbuild-root-');
  const out = tmpDir();
  const docker = path.join(out, 'docker.tar');
  const oci = path.join(out, 'oci.tar');
  const layout = path.join(out, 'layout');
  await tsbuildOk(['build', '-t', 'outs:1', '-o', `type=docker,dest=${docker}`, '-o', `type=oci,dest=${oci}`, '-o', `type=oci,tar=false,dest=${layout}`, context()], { root });
  const config = JSON.parse((await tsbuildOk(['inspect', 'outs:1'], { root })).stdout) as { rootfs: { diff_ids: string[] } };
  // skopeo names a docker archive's layers by their uncompressed digests, an OCI layout's by their blobs'.
  t.deepEqual(skopeo(`docker-archive:${docker}`).Layers, config.rootfs.diff_ids);
  const fromOci = skopeo(`oci-archive:${oci}:1`);
  t.is(fromOci.Layers.length, 3);
  t.deepEqual(skopeo(`oci:${layout}:1`).Layers, fromOci.Layers);
  const manifest = JSON.parse(execFileSync('tar', ['-xOf', docker, 'manifest.json'], { encoding: 'utf8' })) as Array<{ RepoTags: string[] }>;
  t.deepEqual(manifest[0]!.RepoTags, ['outs:1']);
  const bundle = path.join(tmpDir(), 'bundle');
  execFileSync('umoci', ['unpack', '--image', `${layout}:1`, bundle]);
  t.is(readFileSync(path.join(bundle, 'rootfs', 'data', 'hello'), 'utf8'), 'hello\n');
  t.false(existsSync(path.join(bundle, 'rootfs', 'data', 'gone')));
});

/**
 * podman on a private store (its own root, run root and tmp dir, so nothing of the machine's podman
 * is touched). runc, not crun: crun refuses hybrid cgroup hosts such as this lab's ("cgroups in
 * hybrid mode not supported"); limits within the host's hard ones (podman's default nofile is above).
 */
function podman(dir: string, args: string[]): string {
  const base = ['--root', path.join(dir, 'root'), '--runroot', path.join(dir, 'run'), '--tmpdir', path.join(dir, 'tmp'), '--storage-driver', 'vfs', '--events-backend', 'none', '--cgroup-manager', 'cgroupfs', '--runtime', 'runc'];
  return execFileSync('podman', [...base, ...args], { encoding: 'utf8', timeout: 120_000, stdio: ['ignore', 'pipe', 'pipe'] });
}

test('type=docker is loaded by podman load: listed under its name with the image id, and it runs', async (t) => {
  const root = tmpDir('tsbuild-root-');
  const archive = path.join(tmpDir(), 'docker.tar');
  // -q prints the image id: the config digest.
  const id = (await tsbuildOk(['build', '-q', '-t', 'loaded:1', '-o', `type=docker,dest=${archive}`, context()], { root })).stdout.trim();
  t.regex(id, /^sha256:[a-f0-9]{64}$/);
  const pod = tmpDir('pod-'); // short: podman refuses a run root over 50 characters
  t.regex(podman(pod, ['load', '-i', archive]), /Loaded image: docker\.io\/library\/loaded:1/);
  const listed = podman(pod, ['images', '--no-trunc', '--format', '{{.ID}} {{.Repository}}:{{.Tag}}']).trim();
  // podman's image id is the config digest too.
  t.is(listed, `${id} docker.io/library/loaded:1`);
  t.is(podman(pod, ['run', '--rm', '--network', 'none', '--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024', 'loaded:1']), 'hello\n');
});

test('type=local writes the filesystem; type=tar streams it to stdout', async (t) => {
  const root = tmpDir('tsbuild-root-');
  const dir = path.join(tmpDir(), 'rootfs');
  await tsbuildOk(['build', '-o', `type=local,dest=${dir}`, context()], { root });
  t.is(readFileSync(path.join(dir, 'data', 'hello'), 'utf8'), 'hello\n');
  t.is(statSync(path.join(dir, 'data', 'hello')).mode & 0o777, 0o750);
  t.false(existsSync(path.join(dir, 'data', 'gone')));
  t.true(statSync(path.join(dir, 'bin', 'busybox')).isFile());
  // Standard output is a pipe here, as in `tsbuild build -o type=tar,dest=- . | tar -t`.
  const listing = execFileSync('sh', ['-c', `node "$0" build -q -o type=tar,dest=- "$1" | tar -tvf -`, cliPath, context()], { env: { ...process.env, TSBUILD_ROOT: root }, encoding: 'utf8' });
  t.regex(listing, /rwxr-x--- 0\/0 +6 .* data\/hello\n/);
  t.notRegex(listing, /data\/gone/);
  // A non-empty directory is refused, not overwritten.
  const again = await tsbuild(['build', '-o', `type=local,dest=${dir}`, context()], { root });
  t.regex(again.stderr, /is not empty/);
});

test('with SOURCE_DATE_EPOCH two store roots give byte-identical archives, gzip and zstd', async (t) => {
  const files: string[][] = [];
  for (const n of [1, 2]) {
    const out = tmpDir();
    const names = ['docker.tar', 'oci.tar', 'fs.tar', 'oci-zstd.tar'].map((f) => path.join(out, f));
    // gzip (the archives' default) and zstd layers alike: the same bytes from either root.
    await tsbuildOk(['build', '-t', 'repro:1', '--build-arg', 'SOURCE_DATE_EPOCH=1700000000', '-o', `type=docker,dest=${names[0]}`, '-o', `type=oci,dest=${names[1]}`,
      '-o', `type=tar,dest=${names[2]}`, '-o', `type=oci,dest=${names[3]},compression=zstd`, context()], { root: tmpDir(`tsbuild-root-${n}-`) });
    files.push(names.map(sha));
  }
  t.deepEqual(files[0], files[1]);
});
