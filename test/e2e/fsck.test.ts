// tsbuild fsck on stores damaged on purpose: each kind of damage is found (exit 1, named), --repair
// removes it and what depends on it (saying so), a second fsck is clean, and the store then builds,
// and its images still read with skopeo.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { makeContext, sharedStore, tmpDir, tsbuild, tsbuildOk } from '../helpers/cli.js';

const base = sharedStore();
const dockerfile = 'FROM busybox\nRUN head -c 100000 /dev/urandom > /a\nRUN echo hi > /b\n';
const ctx = makeContext({ Dockerfile: dockerfile });

let built: Promise<string> | undefined;
/** A store with app:1 built (two RUN layers over busybox), copied afresh for each test. */
async function store(): Promise<string> {
  built ??= (async () => {
    const root = await base();
    await tsbuildOk(['build', '-q', '-t', 'app:1', ctx], { root });
    return root;
  })();
  const copy = path.join(tmpDir('tsbuild-fsck-'), 'root');
  execFileSync('cp', ['-a', await built, copy]);
  return copy;
}

const json = (file: string): any => JSON.parse(readFileSync(file, 'utf8'));
const blob = (root: string, digest: string): string => path.join(root, 'blobs', 'sha256', digest.slice(7));

/** app:1's manifest, config and layer digests, read straight from the layout. */
function appImage(root: string): { manifest: string; config: string; layers: string[]; diffIDs: string[] } {
  const entry = json(path.join(root, 'index.json')).manifests.find((d: any) => d.annotations['io.containerd.image.name'] === 'docker.io/library/app:1');
  const m = json(blob(root, entry.digest));
  return { manifest: entry.digest, config: m.config.digest, layers: m.layers.map((l: any) => l.digest), diffIDs: json(blob(root, m.config.digest)).rootfs.diff_ids };
}

function records(root: string): string[] {
  return readdirSync(path.join(root, 'cache')).filter((n) => /^[a-f0-9]{64}\.json$/.test(n));
}

/** fsck finds problems matching each of `found` and fails; --repair says what it removed and succeeds; then all is clean. */
async function findAndRepair(t: any, root: string, found: RegExp[]): Promise<string> {
  const check = await tsbuild(['fsck'], { root });
  t.is(check.code, 1, check.stdout + check.stderr);
  for (const re of found) t.regex(check.stdout, re);
  t.regex(check.stdout, /problems: run tsbuild fsck --repair/);
  const repair = await tsbuildOk(['fsck', '--repair'], { root });
  for (const re of found) t.regex(repair.stdout, re);
  t.regex(repair.stdout, /all repaired\n$/);
  const again = await tsbuildOk(['fsck', '--format', 'json'], { root });
  t.deepEqual(JSON.parse(again.stdout).problems, []);
  return repair.stdout;
}

/** After repair: the build works (re-tagging app:1) and every tagged image reads with skopeo. */
async function usable(t: any, root: string): Promise<void> {
  await tsbuildOk(['build', '-q', '-t', 'app:1', ctx], { root });
  t.is((await tsbuildOk(['run', 'app:1', 'sh', '-c', 'wc -c < /a; cat /b'], { root })).stdout, '100000\nhi\n');
  for (const name of ['docker.io/library/app:1', 'docker.io/library/busybox:latest']) {
    const info = JSON.parse(execFileSync('skopeo', ['inspect', `oci:${root}:${name}`], { encoding: 'utf8' }));
    t.true(info.Layers.length >= 1, name);
  }
  t.deepEqual(JSON.parse((await tsbuildOk(['fsck', '--format', 'json'], { root })).stdout).problems, []);
}

test('a sound store: fsck reports no problems and exits 0', async (t) => {
  const root = await store();
  const r = await tsbuildOk(['fsck'], { root });
  t.regex(r.stdout, /checked \d+ blobs, 3 images, 3 snapshots, 2 cache records: no problems/);
});

test('a truncated layer blob: the blob, the image and the cache records using it go', async (t) => {
  const root = await store();
  const layer = appImage(root).layers[1]!;
  truncateSync(blob(root, layer), 1000);
  const out = await findAndRepair(t, root, [new RegExp(`blob ${layer}: truncated \\(1000 of \\d+ bytes\\)`), /image docker\.io\/library\/app:1: layer sha256:\w+ is corrupt/]);
  t.regex(out, /\(tag removed\)/);
  t.regex(out, /cache [a-f0-9]{64}\.json: layer 2's blob sha256:\w+ is corrupt \(removed\)/);
  t.deepEqual(records(root), [], 'both records had that layer');
  await usable(t, root);
});

test('a blob with wrong content: a config overwritten with other bytes of the same size', async (t) => {
  const root = await store();
  const { config } = appImage(root);
  const size = readFileSync(blob(root, config)).length;
  writeFileSync(blob(root, config), Buffer.alloc(size, 'x'));
  const out = await findAndRepair(t, root, [new RegExp(`blob ${config}: its content does not match its digest`), /image docker\.io\/library\/app:1: config sha256:\w+ is corrupt/]);
  t.regex(out, /tag removed/);
  t.is(records(root).length, 2, 'the cache records do not use the config');
  await usable(t, root);
});

test('a deleted snapshot directory: the cache records built on it go, the image stays', async (t) => {
  const root = await store();
  const { diffIDs } = appImage(root);
  // The chain ID of the top layer names its directory (16 hex digits).
  const chain = (ids: string[]): string => ids.reduce((p, d) => (p ? `sha256:${execFileSync('sha256sum', { input: `${p} ${d}` }).toString().slice(0, 64)}` : d), '');
  const dir = path.join(root, 'snapshots', chain(diffIDs.slice(0, 2)).slice(7, 23));
  rmSync(dir, { recursive: true });
  await findAndRepair(t, root, [/cache [a-f0-9]{64}\.json: snapshot [a-f0-9]{16} of layer 2 is missing/]);
  t.deepEqual(records(root), []);
  const r = await tsbuildOk(['fsck'], { root });
  t.regex(r.stdout, /3 images/, 'the images need no snapshot to be whole');
  await usable(t, root);
});

test('a snapshot whose fs/ is gone but layer.json stays is damaged: removed with its records', async (t) => {
  const root = await store();
  const snaps = readdirSync(path.join(root, 'snapshots'));
  const top = snaps.find((s) => json(path.join(root, 'snapshots', s, 'layer.json')).diffID === appImage(root).diffIDs[2])!;
  rmSync(path.join(root, 'snapshots', top, 'fs'), { recursive: true });
  const out = await findAndRepair(t, root, [new RegExp(`snapshot ${top}: its fs/ directory is missing`), /cache [a-f0-9]{64}\.json: snapshot \w+ of layer 3 is damaged/]);
  t.regex(out, new RegExp(`snapshot ${top}: .*\\(removed\\)`));
  t.is(records(root).length, 1, 'the record of the layer below stays');
  await usable(t, root);
});

test('a dangling index.json entry: the tag whose manifest is not there goes, the others stay', async (t) => {
  const root = await store();
  const indexPath = path.join(root, 'index.json');
  const index = json(indexPath);
  const ghost = `sha256:${'ab'.repeat(32)}`;
  index.manifests.push({ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: ghost, size: 500, annotations: { 'io.containerd.image.name': 'docker.io/library/ghost:1', 'org.opencontainers.image.ref.name': 'docker.io/library/ghost:1' } });
  writeFileSync(indexPath, JSON.stringify(index));
  await findAndRepair(t, root, [new RegExp(`image docker\\.io/library/ghost:1: manifest ${ghost} is missing`)]);
  const names = json(indexPath).manifests.map((d: any) => d.annotations['io.containerd.image.name']).sort();
  t.deepEqual(names, ['docker.io/library/app:1', 'docker.io/library/busybox:latest', 'localhost:5000/busybox:latest']);
  await usable(t, root);
});

test('what a prune killed midway leaves (a half-removed snapshot without layer.json, its lock, its tmp dir) is found and removed', async (t) => {
  const root = await store();
  // An untagged build: cache that prune would remove.
  await tsbuildOk(['build', '-q', makeContext({ Dockerfile: 'FROM busybox\nRUN mkdir /junk && head -c 50000 /dev/urandom > /junk/1 && head -c 50000 /dev/urandom > /junk/2\n' })], { root });
  const appDiffs = appImage(root).diffIDs;
  const junkRecord = records(root).find((r) => !appDiffs.includes(json(path.join(root, 'cache', r)).chain.at(-1).diffID))!;
  const junkLayer = json(path.join(root, 'cache', junkRecord)).chain.at(-1);
  const junkDir = path.join(root, 'snapshots', junkLayer.chainID.slice(7, 23));
  // prune's order: the record, then the snapshot's layer.json, then its files (killed after one), then blobs.
  unlinkSync(path.join(root, 'cache', junkRecord));
  unlinkSync(path.join(junkDir, 'layer.json'));
  unlinkSync(path.join(junkDir, 'fs', 'junk', '1'));
  // The dead prune's lock on the index and its scratch dir.
  const dead = 999_999;
  writeFileSync(path.join(root, 'locks', 'index.lock'), `${dead}-0123456789abcdef`);
  mkdirSync(path.join(root, 'tmp', `${dead}-deadbeef`, 'x'), { recursive: true });
  await findAndRepair(t, root, [new RegExp(`snapshot ${path.basename(junkDir)}: incomplete: no layer.json`)]);
  t.false(readdirSync(path.join(root, 'snapshots')).includes(path.basename(junkDir)));
  t.deepEqual(readdirSync(path.join(root, 'tmp')), [], 'the dead process\'s scratch dir went at open');
  // prune finishes the job; the store builds.
  t.regex((await tsbuildOk(['prune'], { root })).stdout, /Total reclaimed space/);
  await usable(t, root);
});

test('a corrupt cache record (not JSON), one whose chain IDs do not follow from its diff IDs, and a damaged blob-sources.json are removed; the step is rebuilt', async (t) => {
  const root = await store();
  const [a, b] = records(root).sort((x, y) => json(path.join(root, 'cache', x)).chain.length - json(path.join(root, 'cache', y)).chain.length);
  writeFileSync(path.join(root, 'cache', a!), '{"chain": [');
  const rec = json(path.join(root, 'cache', b!));
  rec.chain[2].chainID = `sha256:${'cd'.repeat(32)}`;
  writeFileSync(path.join(root, 'cache', b!), JSON.stringify(rec));
  // Where lazily fetched blobs come from, damaged too.
  writeFileSync(path.join(root, 'cache', 'blob-sources.json'), JSON.stringify({ nope: 1 }));
  await findAndRepair(t, root, [new RegExp(`cache ${a}: not valid JSON`), new RegExp(`cache ${b}: layer 3's chain ID sha256:(cd)+ does not follow`), /cache blob-sources\.json: entry nope is not a digest/]);
  t.deepEqual(records(root), []);
  t.false(readdirSync(path.join(root, 'cache')).includes('blob-sources.json'));
  const again = await tsbuildOk(['build', '--progress=plain', '-t', 'app:1', ctx], { root });
  t.notRegex(again.stderr, /RUN echo hi[^\n]*\n#\d+ CACHED/);
  await usable(t, root);
});
