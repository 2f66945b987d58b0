// Pending layers: a step whose layer no image of the build holds (a build stage's RUN) is committed
// as its snapshot alone, as BuildKit leaves such a layer an unarchived directory; its tar, diff ID
// and blob are made only when something exports it. Checked here: nothing of a build stage's layer
// reaches blobs/; sealing it later (--target, --cache-to mode=max) gives byte for byte the layers a
// fresh store's eager build gives; fsck, prune and --no-cache handle pending snapshots.
import test from 'ava';
import { cpSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { jsonEvents, makeContext, runSh, storeWithBusybox, tmpDir, tsbuild, tsbuildOk } from '../helpers/cli.js';

const DOCKERFILE = [
  'FROM busybox AS build',
  'RUN mkdir /out && echo built > /out/a && echo scratch > /out/tmp',
  'RUN echo second > /out/b && rm /out/tmp',
  'FROM busybox',
  'COPY --from=build /out/a /a',
  'RUN cat /a > /copied',
  '',
].join('\n');

const EPOCH = ['--build-arg', `SOURCE_DATE_EPOCH=${Date.parse('2010-01-01T00:00:00Z') / 1000}`];

interface LayerJson {
  chainID: string;
  diffID?: string;
  pending?: object;
  localID?: boolean;
}

function snapshots(root: string): LayerJson[] {
  const dir = path.join(root, 'snapshots');
  return readdirSync(dir).map((n) => JSON.parse(readFileSync(path.join(dir, n, 'layer.json'), 'utf8')) as LayerJson);
}

const blobs = (root: string): Set<string> => new Set(readdirSync(path.join(root, 'blobs', 'sha256')));

/** Two stores with the same busybox image (each import has its own creation time, so its own digest). */
async function twoStores(): Promise<[string, string]> {
  const root = await storeWithBusybox();
  const copy = path.join(tmpDir('tsbuild-root-'), 'root');
  cpSync(root, copy, { recursive: true });
  return [root, copy];
}

async function inspect(root: string, image: string): Promise<{ diffIDs: string[] }> {
  const config = JSON.parse((await tsbuildOk(['inspect', image], { root })).stdout) as { rootfs: { diff_ids: string[] } };
  return { diffIDs: config.rootfs.diff_ids };
}

const ran = (stderr: string): string[] => jsonEvents(stderr).filter((e) => e.type === 'vertex-start' && / RUN /.test(e.name ?? '')).map((e) => e.name!);

test('a build stage\'s RUN layers stay pending (no blob); --target later seals them into the layers a fresh store builds', async (t) => {
  const [root, fresh] = await twoStores();
  const ctx = makeContext({ Dockerfile: DOCKERFILE });
  await tsbuildOk(['build', '-q', ...EPOCH, '-t', 'pending:final', ctx], { root });

  const pending = snapshots(root).filter((l) => l.pending);
  t.is(pending.length, 2, 'the build stage\'s two RUNs are pending snapshots');
  t.true(pending.every((l) => l.diffID === undefined));
  const blobsBefore = blobs(root);
  t.is(await runSh(root, 'pending:final', 'cat /copied'), 'built\n');

  // The build stage as the target: every step cached, its layers sealed now.
  const target = await tsbuildOk(['build', '--progress=json', ...EPOCH, '--target', 'build', '-t', 'pending:build', ctx], { root });
  t.deepEqual(ran(target.stderr), [], 'nothing ran: the pending snapshots were the cache');
  t.true(snapshots(root).every((l) => !l.pending), 'both pending layers are sealed');
  t.is(snapshots(root).filter((l) => l.localID).length, 2, 'sealed under the names they were committed with');

  // A fresh store builds the same stage eagerly: the same layers and the same image.
  const eagerID = (await tsbuildOk(['build', '-q', ...EPOCH, '--target', 'build', '-t', 'pending:build', ctx], { root: fresh })).stdout;
  const lateID = (await tsbuildOk(['build', '-q', ...EPOCH, '--target', 'build', '-t', 'pending:build', ctx], { root })).stdout;
  const [late, eager] = [await inspect(root, 'pending:build'), await inspect(fresh, 'pending:build')];
  t.deepEqual(late.diffIDs, eager.diffIDs, 'a late seal gives the diff IDs of a layer made at commit');
  t.regex(eagerID, /sha256:[a-f0-9]{64}/);
  t.is(lateID, eagerID, 'and the same image');
  t.is(late.diffIDs.length, 3);
  // Layers are stored as plain tars (blob digest = diff ID): the build stage's two were not there before the seal.
  const stage = late.diffIDs.slice(1).map((d) => d.slice(7));
  t.deepEqual(stage.filter((d) => blobsBefore.has(d)), [], 'the first build wrote no blob of the build stage\'s layers');
  t.deepEqual(stage.filter((d) => !blobs(root).has(d)), [], 'the seal did');
  t.is(snapshots(fresh).filter((l) => l.pending).length, 0, 'a target stage\'s layers are made at commit');

  // A later seal reads the layer back rather than making it twice; fsck finds the store sound.
  await tsbuildOk(['build', '-q', ...EPOCH, '--target', 'build', '-t', 'pending:build2', ctx], { root });
  t.deepEqual((await inspect(root, 'pending:build2')).diffIDs, late.diffIDs);
  const fsck = (): Promise<unknown[]> => tsbuildOk(['fsck', '--format', 'json'], { root }).then((r) => (JSON.parse(r.stdout) as { problems: unknown[] }).problems);
  t.deepEqual(await fsck(), []);

  // A sealed layer whose blob went (as prune may take it) is sealed again when an image needs it.
  for (const d of stage) rmSync(path.join(root, 'blobs', 'sha256', d));
  await tsbuildOk(['build', '-q', ...EPOCH, '--target', 'build', '-t', 'pending:build3', ctx], { root });
  t.deepEqual((await inspect(root, 'pending:build3')).diffIDs, late.diffIDs);
  t.deepEqual(stage.filter((d) => !blobs(root).has(d)), [], 'the blobs are back');
  t.deepEqual(await fsck(), [], 'and every image is whole again');
});

test('--cache-to mode=max seals the build stage; a fresh store with that cache runs nothing and gets the same layers', async (t) => {
  const [root, fresh] = await twoStores();
  const eager = path.join(tmpDir('tsbuild-root-'), 'root');
  cpSync(fresh, eager, { recursive: true });
  const ctx = makeContext({ Dockerfile: DOCKERFILE });
  const dest = path.join(tmpDir('tsbuild-pending-cache-'), 'cache');
  await tsbuildOk(['build', '-q', ...EPOCH, '-t', 'pending:final', '--cache-to', `type=local,dest=${dest},mode=max`, ctx], { root });
  t.is(snapshots(root).filter((l) => l.pending).length, 0, 'mode=max exports every layer, so none stays pending');

  const r = await tsbuildOk(['build', '--progress=json', ...EPOCH, '--target', 'build', '-t', 'pending:build', '--cache-from', `type=local,src=${dest}`, ctx], { root: fresh });
  t.deepEqual(ran(r.stderr), [], 'the imported cache holds the build stage');
  await tsbuildOk(['build', '-q', ...EPOCH, '--target', 'build', '-t', 'pending:build', ctx], { root: eager });
  t.deepEqual((await inspect(fresh, 'pending:build')).diffIDs, (await inspect(eager, 'pending:build')).diffIDs);
});

test('--no-cache makes a new pending snapshot per run; prune --all removes them and fsck stays clean', async (t) => {
  const root = await storeWithBusybox();
  const ctx = makeContext({ Dockerfile: DOCKERFILE });
  await tsbuildOk(['build', '-q', '-t', 'pending:final', ctx], { root });
  await tsbuildOk(['build', '-q', '--no-cache', '-t', 'pending:final', ctx], { root });
  const pending = snapshots(root).filter((l) => l.pending);
  t.is(pending.length, 4, 'two runs of two build-stage RUNs: four snapshots');
  t.is(new Set(pending.map((l) => l.chainID)).size, 4);
  t.deepEqual(JSON.parse((await tsbuildOk(['fsck', '--format', 'json'], { root })).stdout).problems, []);
  await tsbuildOk(['prune', '--all'], { root });
  t.is(snapshots(root).filter((l) => l.pending).length, 0, 'prune removes pending snapshots');
  t.deepEqual(JSON.parse((await tsbuildOk(['fsck', '--format', 'json'], { root })).stdout).problems, []);
  // And the store still builds (the cache records went with their snapshots).
  await tsbuildOk(['build', '-q', '-t', 'pending:final', ctx], { root });
  t.is(snapshots(root).filter((l) => l.pending).length, 2);

  // A pending snapshot is all there is of its layer: fsck finds one that lost its files, --repair
  // removes it and the records naming it, and the next build runs those steps again.
  const dir = path.join(root, 'snapshots');
  for (const n of readdirSync(dir)) if ((JSON.parse(readFileSync(path.join(dir, n, 'layer.json'), 'utf8')) as LayerJson).pending) rmSync(path.join(dir, n, 'fs'), { recursive: true });
  const check = await tsbuild(['fsck', '--format', 'json'], { root });
  t.is(check.code, 1);
  t.is((JSON.parse(check.stdout) as { problems: Array<{ area: string }> }).problems.filter((p) => p.area === 'snapshot').length, 2);
  await tsbuildOk(['fsck', '--repair'], { root });
  t.deepEqual(JSON.parse((await tsbuildOk(['fsck', '--format', 'json'], { root })).stdout).problems, []);
  const again = await tsbuildOk(['build', '--progress=json', '--target', 'build', '-t', 'pending:build', ctx], { root });
  t.is(ran(again.stderr).length, 2, 'both build-stage RUNs ran again');
});
