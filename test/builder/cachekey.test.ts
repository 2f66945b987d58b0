// Cache-key rules (DESIGN §3): every input that shapes a vertex's result changes its key, and nothing
// else does. First cacheKey itself, then whole Dockerfiles through the frontend and the solver's key
// computation (which adds the checksums of the context content each COPY selects).
import test from 'ava';
import { chmod, chown, mkdir, mkdtemp, rm, symlink, unlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { cacheKey } from '../../builder/cachekey.js';
import { execKeyDefinition } from '../../builder/exec.js';
import type { ExecMount, ExecOp, Vertex } from '../../builder/graph.js';
import { Solver } from '../../builder/solver.js';
import type { ImageResolver } from '../../builder/resolver.js';
import type { Digest } from '../../common/oci.js';
import { convertDockerfile } from '../../frontend/convert.js';
import type { ContentStore } from '../../snapshotter/content.js';
import type { Snapshots } from '../../snapshotter/snapshots.js';
import { Store } from '../../snapshotter/store.js';

const bind: ExecMount = { type: 'bind', target: '/src', from: 1, source: 'src', readonly: true };
const run: ExecOp = { kind: 'exec', args: ['/bin/sh', '-c', 'make'], env: ['PATH=/bin'], cwd: '/', user: '', network: 'default', hostname: 'buildkitsandbox', mounts: [bind] };
const rootfsKey: Digest = `sha256:${'1'.repeat(64)}`;
const contextKey: Digest = `sha256:${'2'.repeat(64)}`;
const inputs = [rootfsKey, contextKey];

test('cacheKey: each part of a RUN definition, the input keys and the content checksums change it', (t) => {
  const base = cacheKey(run, inputs);
  const variants: Array<[string, string]> = [
    ['argv', cacheKey({ ...run, args: ['/bin/sh', '-c', 'make install'] }, inputs)],
    ['argv split differently', cacheKey({ ...run, args: ['/bin/sh', '-c make'] }, inputs)],
    ['env', cacheKey({ ...run, env: ['PATH=/bin', 'A=1'] }, inputs)],
    ['user', cacheKey({ ...run, user: 'nobody' }, inputs)],
    ['cwd', cacheKey({ ...run, cwd: '/app' }, inputs)],
    ['network', cacheKey({ ...run, network: 'none' }, inputs)],
    ['insecure', cacheKey({ ...run, insecure: true }, inputs)],
    ['mount target', cacheKey({ ...run, mounts: [{ ...bind, target: '/other' }] }, inputs)],
    ['mount source', cacheKey({ ...run, mounts: [{ ...bind, source: 'lib' }] }, inputs)],
    ['mount rw', cacheKey({ ...run, mounts: [{ ...bind, readonly: false }] }, inputs)],
    ['mount from', cacheKey({ ...run, mounts: [{ ...bind, from: 0 }] }, inputs)],
    ['another mount', cacheKey({ ...run, mounts: [bind, { type: 'tmpfs', target: '/tmp' }] }, inputs)],
    ['no mount', cacheKey({ ...run, mounts: [] }, inputs)],
    ['rootfs input key', cacheKey(run, [`sha256:${'3'.repeat(64)}`, contextKey])],
    ['input order', cacheKey(run, [contextKey, rootfsKey])],
    ['an input fewer', cacheKey(run, [rootfsKey])],
    ['content checksum', cacheKey(run, inputs, { mount0: 'abc' })],
  ];
  for (const [what, key] of variants) t.not(key, base, what);
  const all = new Set([base, ...variants.map(([, k]) => k)]);
  t.is(all.size, variants.length + 1, 'and every variant differs from every other');
  t.not(cacheKey(run, inputs, { mount0: 'abc' }), cacheKey(run, inputs, { mount0: 'abd' }));
});

test('cacheKey: field order and absent-vs-undefined fields do not change it', (t) => {
  const reversed = <T extends object>(o: T): T => Object.fromEntries(Object.entries(o).reverse()) as T;
  const shuffled = { ...reversed(run), mounts: [reversed(bind)] };
  t.deepEqual(Object.keys(shuffled), [...Object.keys(run)].reverse());
  t.is(cacheKey(shuffled, inputs), cacheKey(run, inputs));
  t.is(cacheKey({ ...run, insecure: undefined }, inputs), cacheKey(run, inputs));
  t.is(cacheKey(run, inputs, { b: '2', a: '1' }), cacheKey(run, inputs, { a: '1', b: '2' }));
});

test('exec keys as BuildKit\'s CacheMap: --ulimit and --add-host names count, --add-host IPs do not', (t) => {
  const key = (op: ExecOp): Digest => cacheKey(execKeyDefinition(op), inputs);
  const hosts = (ip: string): ExecOp => ({ ...run, extraHosts: [{ host: 'db', ip }] });
  t.is(key(hosts('10.0.0.1')), key(hosts('10.0.0.2')));
  t.not(key(hosts('10.0.0.1')), key(run));
  t.not(key(hosts('10.0.0.1')), key({ ...run, extraHosts: [{ host: 'cache', ip: '10.0.0.1' }] }));
  t.not(key({ ...run, ulimits: [{ name: 'nofile', soft: 1, hard: 2 }] }), key({ ...run, ulimits: [{ name: 'nofile', soft: 1, hard: 3 }] }));
  t.is(key(run), cacheKey(run, inputs), 'an exec without them keeps the key it had');
  t.deepEqual(hosts('10.0.0.1').extraHosts, [{ host: 'db', ip: '10.0.0.1' }], 'the op itself is left alone');
});

// ---------------------------------------------------------------------------------------------
// Whole Dockerfiles: the key of each step, by instruction.

const digestA: Digest = `sha256:${'a'.repeat(64)}`;
const digestB: Digest = `sha256:${'b'.repeat(64)}`;

interface Build {
  dockerfile: string;
  dockerignore?: string;
  baseDigest?: Digest;
}

/** Each vertex's key by its instruction's keyword (FROM, RUN, COPY, WORKDIR; the context), as a build of `ctx` computes it. */
async function stepKeys(store: Store, ctx: string, b: Build): Promise<Record<string, string>> {
  const { definition } = await convertDockerfile({
    dockerfile: b.dockerfile,
    dockerignore: b.dockerignore,
    filename: 'Dockerfile',
    buildArgs: new Map(),
    platform: { os: 'linux', architecture: 'amd64' },
    resolveImage: async (ref) => ({
      source: { type: 'image', ref, origin: { kind: 'store' }, manifestDigest: b.baseDigest ?? digestA, platform: { os: 'linux', architecture: 'amd64' } },
      config: { architecture: 'amd64', os: 'linux', config: { Env: ['PATH=/bin'] }, rootfs: { type: 'layers', diff_ids: [] } },
    }),
  });
  // Computing keys reads only the store's stat cache and the context; nothing runs.
  const solver = new Solver({
    store,
    contextDir: ctx,
    content: {} as ContentStore,
    snapshots: {} as Snapshots,
    resolver: {} as ImageResolver,
    progress: () => {},
  });
  const keys: Record<string, string> = {};
  const visit = async (v: Vertex): Promise<void> => {
    const word = v.name.replace(/^\[[^\]]*\d+\/\d+\] /, '').split(' ')[0]!;
    keys[word === '[internal]' ? 'context' : word] = await solver.key(v);
    for (const i of v.inputs) await visit(i);
  };
  await visit(definition.root);
  return keys;
}

async function fixture(t: { teardown(fn: () => Promise<void>): void }): Promise<{ store: Store; ctx: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'cachekey-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const ctx = path.join(dir, 'ctx');
  await mkdir(path.join(ctx, 'src', 'lib'), { recursive: true });
  await writeFile(path.join(ctx, 'src', 'main.c'), 'int main() {}\n');
  await writeFile(path.join(ctx, 'src', 'lib', 'util.c'), 'void util() {}\n');
  await writeFile(path.join(ctx, 'src', 'skip.log'), 'ignored\n');
  await symlink('main.c', path.join(ctx, 'src', 'link.c'));
  await writeFile(path.join(ctx, 'README'), 'not copied\n');
  return { store: Store.open(path.join(dir, 'store')), ctx };
}

const dockerfile = 'FROM img\nLABEL v=1\nRUN make\nCOPY src/ /app/\nCMD ["app"]\n';

test('metadata-only instructions change no key', async (t) => {
  const { store, ctx } = await fixture(t);
  const base = await stepKeys(store, ctx, { dockerfile });
  t.deepEqual(Object.keys(base), ['COPY', 'RUN', 'FROM', 'context']);
  const metadata = [
    'LABEL v=2',
    'LABEL other=x',
    'CMD ["other"]',
    'ENTRYPOINT ["/bin/app"]',
    'EXPOSE 8080',
    'VOLUME /data',
    'STOPSIGNAL SIGKILL',
    'HEALTHCHECK CMD true',
    'MAINTAINER someone',
    'ONBUILD RUN echo later',
  ];
  for (const line of metadata) {
    const before = await stepKeys(store, ctx, { dockerfile: dockerfile.replace('LABEL v=1\n', `${line}\n`) });
    t.deepEqual(before, base, `${line} before the steps`);
    const after = await stepKeys(store, ctx, { dockerfile: `${dockerfile}${line}\n` });
    t.deepEqual(after, base, `${line} after the steps`);
  }
});

test('what a RUN sees changes its key and those after it, not those before', async (t) => {
  const { store, ctx } = await fixture(t);
  const base = await stepKeys(store, ctx, { dockerfile });
  const variants: Array<[string, string]> = [
    ['ENV before it', dockerfile.replace('LABEL v=1', 'ENV CC=clang')],
    ['USER before it', dockerfile.replace('LABEL v=1', 'USER nobody')],
    ['SHELL before it', dockerfile.replace('LABEL v=1', 'SHELL ["/bin/bash", "-c"]')],
    ['ARG with a default', dockerfile.replace('LABEL v=1', 'ARG V=1')],
    ['WORKDIR before it (a step of its own, and the cwd)', dockerfile.replace('LABEL v=1', 'WORKDIR /w')],
    ['--network', dockerfile.replace('RUN make', 'RUN --network=none make')],
    ['--mount', dockerfile.replace('RUN make', 'RUN --mount=type=cache,target=/c make')],
    ['argv', dockerfile.replace('RUN make', 'RUN make all')],
  ];
  for (const [what, df] of variants) {
    const k = await stepKeys(store, ctx, { dockerfile: df });
    t.is(k.FROM, base.FROM, what);
    t.truthy(k.RUN, what);
    t.not(k.RUN, base.RUN, what);
    t.not(k.COPY, base.COPY, `${what}: the COPY on top`);
  }
});

test('the base image digest is in every key', async (t) => {
  const { store, ctx } = await fixture(t);
  const a = await stepKeys(store, ctx, { dockerfile, baseDigest: digestA });
  const b = await stepKeys(store, ctx, { dockerfile, baseDigest: digestB });
  for (const step of ['FROM', 'RUN', 'COPY']) t.not(a[step], b[step], step);
  t.is(a.context, b.context);
});

test('COPY src/: its key follows the selected content, mode and --chown/--chmod, not mtimes, host owners or other files', async (t) => {
  const { store, ctx } = await fixture(t);
  const dockerignore = '**/*.log\n';
  const copyKey = async (df = dockerfile): Promise<string> => {
    return (await stepKeys(store, ctx, { dockerfile: df, dockerignore })).COPY!;
  };
  const base = await copyKey();
  const same = async (what: string): Promise<void> => {
    t.is(await copyKey(), base, what);
  };
  const differs = async (what: string, df?: string): Promise<void> => {
    t.not(await copyKey(df), base, what);
  };
  const src = (p: string): string => path.join(ctx, 'src', p);

  // Not part of the key.
  await utimes(src('main.c'), 1_000_000, 1_000_000);
  await utimes(path.join(ctx, 'src', 'lib'), 1_000_000, 1_000_000);
  await same('mtimes of a file and a directory (touch, same content)');
  await chown(src('main.c'), 1234, 5678);
  await same('host owner of a context file (COPY makes it 0:0)');
  await writeFile(path.join(ctx, 'README'), 'changed, but outside src/\n');
  await writeFile(path.join(ctx, 'new-outside'), 'new\n');
  await same('files outside the selected subset');
  await writeFile(src('skip.log'), 'changed, but .dockerignored\n');
  await same('an excluded file');

  // Part of the key, each restored after.
  await writeFile(src('main.c'), 'int main() { return 1; }\n');
  await differs('content of a selected file');
  await writeFile(src('main.c'), 'int main() {}\n');
  await same('content restored');
  await writeFile(src('main.c'), 'int main() []\n');
  await differs('content of the same size');
  await writeFile(src('main.c'), 'int main() {}\n');
  await chmod(src('main.c'), 0o755);
  await differs('mode of a selected file');
  await chmod(src('main.c'), 0o644);
  await chmod(path.join(ctx, 'src', 'lib'), 0o700);
  await differs('mode of a selected directory');
  await chmod(path.join(ctx, 'src', 'lib'), 0o755);
  await unlink(src('link.c'));
  await symlink('lib/util.c', src('link.c'));
  await differs('a symlink target');
  await unlink(src('link.c'));
  await symlink('main.c', src('link.c'));
  await writeFile(src('lib/added.c'), '\n');
  await differs('a file added to the selection');
  await unlink(src('lib/added.c'));
  await same('everything restored');
  await differs('--chown (owners land in the layer)', dockerfile.replace('COPY src/', 'COPY --chown=1000:1000 src/'));
  await differs('--chmod', dockerfile.replace('COPY src/', 'COPY --chmod=600 src/'));
  await differs('the destination', dockerfile.replace('/app/', '/opt/'));
  await differs('the selection', dockerfile.replace('COPY src/', 'COPY src/lib/'));
});

test('a RUN bind mount of the context is keyed by what it exposes', async (t) => {
  const { store, ctx } = await fixture(t);
  const df = 'FROM img\nRUN --mount=target=/s,source=src/lib make\n';
  const runKey = async (): Promise<string> => (await stepKeys(store, ctx, { dockerfile: df })).RUN!;
  const base = await runKey();
  await writeFile(path.join(ctx, 'src', 'main.c'), 'outside the mount source\n');
  t.is(await runKey(), base);
  await writeFile(path.join(ctx, 'src', 'lib', 'util.c'), 'changed\n');
  t.not(await runKey(), base);
});
