// docker buildx build's flags that tsbuild takes: what each does to the result, or the clear error
// where tsbuild cannot do what it asks yet.
import test from 'ava';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { makeContext, sharedStore, tmpDir, tsbuild, tsbuildOk } from '../helpers/cli.js';

const root = sharedStore();

test('--label, --iidfile and --metadata-file; --load, --provenance=false and --sbom=false are accepted', async (t) => {
  const out = tmpDir();
  const iid = path.join(out, 'iid');
  const meta = path.join(out, 'meta.json');
  const ctx = makeContext({ Dockerfile: 'FROM busybox\nLABEL from=dockerfile keep=1\nRUN true\n' });
  await tsbuildOk(['build', '-t', 'flags:1', '--label', 'from=flag', '--label', 'extra=a=b', '--iidfile', iid, '--metadata-file', meta, '--load', '--provenance=false', '--sbom=false', ctx], { root: await root() });
  const config = JSON.parse((await tsbuildOk(['inspect', 'flags:1'], { root: await root() })).stdout) as { config: { Labels: Record<string, string> } };
  t.deepEqual(config.config.Labels, { from: 'flag', keep: '1', extra: 'a=b' });
  const images = (await tsbuildOk(['images'], { root: await root() })).stdout;
  const id = readFileSync(iid, 'utf8');
  t.regex(id, /^sha256:[a-f0-9]{64}$/);
  t.true(images.includes(id.slice(7, 19)), 'the iidfile holds the image id tsbuild images shows');
  const m = JSON.parse(readFileSync(meta, 'utf8')) as Record<string, string>;
  t.is(m['containerimage.config.digest'], id);
  t.regex(m['containerimage.digest']!, /^sha256:[a-f0-9]{64}$/);
  t.is(m['image.name'], 'docker.io/library/flags:1');
});

test('what tsbuild cannot do yet is a clear usage error: a malformed platform, attestations, a builder, a bad label', async (t) => {
  const ctx = makeContext({ Dockerfile: 'FROM busybox\n' });
  const cases: Array<[string[], RegExp]> = [
    [['--platform', 'linux/riscv64/x/y'], /--platform: invalid platform "linux\/riscv64\/x\/y"/],
    [['--provenance=true'], /does not make attestations yet/],
    [['--sbom=true'], /does not make attestations yet/],
    [['--builder', 'mybuilder'], /has no builders/],
    [['--label', 'novalue'], /needs KEY=VALUE/],
    // an unknown flag is named once, as typed (yargs also names it camel-cased)
    [['--cache-too', 'x'], /ERROR: unknown argument --cache-too\n/],
  ];
  for (const [flags, message] of cases) {
    const r = await tsbuild(['build', ...flags, ctx], { root: await root() });
    t.is(r.code, 1, flags.join(' '));
    t.regex(r.stderr, message);
    t.regex(r.stderr, /\nhint: /);
  }
  const host = await tsbuild(['build', '--platform', `linux/${process.arch === 'x64' ? 'amd64' : 'arm64'}`, ctx], { root: await root() });
  t.is(host.code, 0, host.stderr);
});

test('an unknown flag is reported as typed even where it took the context as its value; a known flag takes its value', async (t) => {
  const ctx = makeContext({ Dockerfile: 'FROM busybox AS one\nRUN echo one > /which\n\nFROM busybox\n' });
  // `--bogus .` gives yargs bogus="." and no context: the flag is the mistake, not the context.
  const cases: Array<[string[], string]> = [
    [['--bogus', ctx], '--bogus'],
    [['--bogus=1', ctx], '--bogus'],
    [['-Z', ctx], '-Z'],
    [['-qZ', ctx], '-Z'],
    [['--no-bogus', ctx], '--no-bogus'],
    [['-t', 'x:1', '--bogus', ctx], '--bogus'],
  ];
  for (const [flags, name] of cases) {
    const r = await tsbuild(['build', ...flags], { root: await root() });
    t.is(r.code, 1, flags.join(' '));
    t.is(r.stderr, `ERROR: unknown argument ${name}\nhint: see tsbuild --help\n`, flags.join(' '));
  }
  const pull = await tsbuild(['pull', '--bogus', 'busybox'], { root: await root() });
  t.is(pull.stderr, 'ERROR: unknown argument --bogus\nhint: see tsbuild --help\n', 'another command\'s unknown flag too');
  // Known flags followed by their values, short and long, negated booleans: the build runs.
  const dest = tmpDir();
  const ok = await tsbuild(['build', '-f', path.join(ctx, 'Dockerfile'), '--target', 'one', '--no-cache', '-o', `type=local,dest=${dest}`, '-t', 'flags:typed', ctx], { root: await root() });
  t.is(ok.code, 0, ok.stderr);
  t.is(readFileSync(path.join(dest, 'which'), 'utf8'), 'one\n');
});
