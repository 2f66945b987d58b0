// Start-up cost: ink and react load only when the TTY view is chosen (a dynamic import, its own
// chunk), never for --version, other commands or other progress modes.
import test from 'ava';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { makeContext, repoRoot, sharedStore, tmpDir, tsbuild } from '../helpers/cli.js';

const root = sharedStore();
const made: string[] = [];
test.after.always(async () => {
  for (const dir of [...made, await root()]) rmSync(dir, { recursive: true, force: true });
});
const hooks = pathToFileURL(path.join(repoRoot, 'test', 'helpers', 'load-log.mjs')).href;

/** The bundle's files a run of `tsbuild ARGS` loads. */
async function loaded(args: string[]): Promise<string[]> {
  const dir = tmpDir();
  made.push(dir);
  const log = path.join(dir, 'loaded');
  await tsbuild(args, { root: await root(), env: { NODE_OPTIONS: `--import=${hooks}`, TSBUILD_LOAD_LOG: log } });
  return readFileSync(log, 'utf8').split('\n').filter((u) => u.includes('/dist/'));
}

test('--version, images and plain and json builds do not load the TTY view; --progress=tty does', async (t) => {
  const ctx = makeContext({ Dockerfile: 'FROM busybox\nRUN true\n' });
  made.push(ctx);
  const tty = /\/chunks\/renderer-/;
  for (const args of [['--version'], ['images'], ['build', '--progress=plain', ctx], ['build', '--progress=json', ctx]]) {
    const files = await loaded(args);
    t.true(files.some((u) => u.endsWith('/dist/tsbuild.mjs')), `${args.join(' ')}: the log works`);
    t.false(files.some((u) => tty.test(u)), `${args.join(' ')} loads ${files.join(', ')}`);
  }
  t.true((await loaded(['build', '--progress=tty', ctx])).some((u) => tty.test(u)));
});

test('--version loads the entry file alone; --help, which loads the CLI and its help layout lazily, still lays out every command', async (t) => {
  t.deepEqual((await loaded(['--version'])).map((u) => path.basename(u)), ['tsbuild.mjs']);
  const version = await tsbuild(['--version'], { root: await root() });
  t.is(version.stdout, `${JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')).version}\n`);
  const help = await tsbuild(['--help'], { root: await root() });
  t.is(help.code, 0);
  t.regex(help.stdout, /^ {2}tsbuild build <context> +Build an image from a Dockerfile +\[default\]$/m);
  t.regex(help.stdout, /^ {2}tsbuild rmi <images\.\.> +Remove image names/m);
  const sub = await tsbuild(['build', '--help'], { root: await root() });
  t.regex(sub.stdout, /^ {2}-t, --tag +name and optionally a tag/m);
  // A named command's usage error after its handler started (no cached help) is still reported.
  const bad = await tsbuild(['tag', 'no-such-image:1', 'x:1'], { root: await root() });
  t.is(bad.code, 1);
  t.regex(bad.stderr, /no-such-image/);
});
