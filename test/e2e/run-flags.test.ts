// buildx's flags for every RUN, seen from inside the RUN: --network, --add-host, --shm-size, --ulimit;
// which of them change a step's cache key (as BuildKit: all but an --add-host's IP); bad values.
import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { jsonEvents, makeContext, sharedStore, tmpDir, tsbuild, tsbuildOk } from '../helpers/cli.js';

const root = sharedStore();

/** Builds with `flags` into a local dir and returns the files the RUNs wrote under /out. */
async function outFiles(dockerfile: string, flags: string[]): Promise<Record<string, string>> {
  const ctx = makeContext({ Dockerfile: dockerfile });
  const dest = tmpDir();
  await tsbuildOk(['build', ...flags, '-o', `type=local,dest=${dest}`, ctx], { root: await root() });
  const out = path.join(dest, 'out');
  return Object.fromEntries(readdirSync(out).map((f) => [f, readFileSync(path.join(out, f), 'utf8')]));
}

test('--add-host lines are in every RUN\'s /etc/hosts, after the standard ones', async (t) => {
  const files = await outFiles('FROM busybox\nRUN mkdir /out && cat /etc/hosts > /out/hosts\n', ['--add-host', 'db.internal:10.1.2.3', '--add-host', 'v6.internal=fd00::1', '--add-host', 'a:1.1.1.1,b:2.2.2.2']);
  const lines = files.hosts!.trim().split('\n');
  t.is(lines[0], '127.0.0.1\tlocalhost');
  t.deepEqual(lines.slice(-4), ['10.1.2.3\tdb.internal', 'fd00::1\tv6.internal', '1.1.1.1\ta', '2.2.2.2\tb']);
});

test('--network=none leaves only lo; RUN --network=host overrides it and sees the host\'s interfaces; RUN --network=default takes the build\'s', async (t) => {
  const df = 'FROM busybox\nRUN mkdir /out && ls /sys/class/net > /out/none\nRUN --network=host ls /sys/class/net > /out/host\nRUN --network=default ls /sys/class/net > /out/default\n';
  const files = await outFiles(df, ['--network=none']);
  t.is(files.none, 'lo\n');
  t.is(files.default, 'lo\n');
  t.deepEqual(files.host!.trim().split('\n').sort(), readdirSync('/sys/class/net').sort());
  const host = await outFiles('FROM busybox\nRUN mkdir /out && ls /sys/class/net > /out/host\n', ['--network', 'host']);
  t.deepEqual(host.host!.trim().split('\n').sort(), readdirSync('/sys/class/net').sort());
});

test('--shm-size sizes the RUN\'s /dev/shm (64 MiB without it)', async (t) => {
  const df = 'FROM busybox\nRUN mkdir /out && df -k /dev/shm | tail -1 > /out/df\n';
  const blocks = (line: string): number => Number(line.trim().split(/\s+/)[1]);
  t.is(blocks((await outFiles(df, ['--shm-size', '32m'])).df!), 32 * 1024);
  t.is(blocks((await outFiles(df, ['--shm-size=1g'])).df!), 1024 * 1024);
  t.is(blocks((await outFiles(df, [])).df!), 64 * 1024);
});

test('--ulimit sets soft and hard limits in the RUN (nofile, core unlimited, nproc with HARD defaulting to SOFT)', async (t) => {
  const df = 'FROM busybox\nRUN mkdir /out && ulimit -Sn > /out/nofile-soft && ulimit -Hn > /out/nofile-hard && ulimit -c > /out/core && ulimit -Su > /out/nproc-soft && ulimit -Hu > /out/nproc-hard\n';
  const files = await outFiles(df, ['--ulimit', 'nofile=512:1024', '--ulimit', 'core=-1', '--ulimit', 'nproc=300']);
  t.deepEqual(files, { 'nofile-soft': '512\n', 'nofile-hard': '1024\n', core: 'unlimited\n', 'nproc-soft': '300\n', 'nproc-hard': '300\n' });
  // A repeated type: the last one counts, as docker's.
  const again = await outFiles('FROM busybox\nRUN mkdir /out && ulimit -n > /out/n\n', ['--ulimit', 'nofile=100', '--ulimit', 'nofile=200']);
  t.is(again.n, '200\n');
});

test('cache keys follow BuildKit: --network, --ulimit, --shm-size and an --add-host name rerun RUN; an --add-host IP alone does not', async (t) => {
  const ctx = makeContext({ Dockerfile: 'FROM busybox\nRUN echo step\n' });
  const ran = async (flags: string[]): Promise<boolean> => {
    const events = jsonEvents((await tsbuildOk(['build', '--progress=json', ...flags, ctx], { root: await root() })).stderr);
    return events.some((e) => e.type === 'vertex-start' && /\] RUN /.test(e.name ?? ''));
  };
  t.true(await ran(['--add-host', 'h:1.2.3.4']), 'first build');
  t.false(await ran(['--add-host', 'h:1.2.3.4']), 'the same flags: CACHED');
  t.false(await ran(['--add-host', 'h:5.6.7.8']), 'only the IP changed: CACHED (BuildKit leaves add-host IPs out of the key)');
  t.true(await ran(['--add-host', 'other:5.6.7.8']), 'another host name');
  t.true(await ran(['--add-host', 'other:5.6.7.8', '--ulimit', 'nofile=1000']), 'a ulimit');
  t.true(await ran(['--add-host', 'other:5.6.7.8', '--ulimit', 'nofile=1000', '--shm-size', '100m']), 'a /dev/shm size');
  t.true(await ran(['--add-host', 'other:5.6.7.8', '--ulimit', 'nofile=1000', '--shm-size', '100m', '--network', 'none']), 'a network mode');
  t.false(await ran(['--network=none', '--shm-size', '100m', '--ulimit', 'nofile=1000', '--add-host', 'other:9.9.9.9']), 'the same settings in another order');
});

test('bad values are usage errors naming the flag, the value and the form expected', async (t) => {
  const ctx = makeContext({ Dockerfile: 'FROM busybox\nRUN true\n' });
  const cases: Array<[string[], RegExp, RegExp]> = [
    [['--network', 'bridge'], /--network "bridge": not a network mode/, /default, none or host/],
    [['--add-host', 'nocolon'], /--add-host "nocolon": needs a host name and an IP address/, /HOST:IP/],
    [['--add-host', 'db:not-an-ip'], /"not-an-ip" is not an IP address/, /HOST:IP/],
    [['--add-host', 'db:host-gateway'], /no host gateway/, /IP address itself/],
    [['--shm-size', 'lots'], /--shm-size "lots": not a size/, /128m/],
    [['--shm-size', '0'], /--shm-size "0": not a size/, /128m/],
    [['--ulimit', 'nofile'], /--ulimit "nofile": needs TYPE=SOFT\[:HARD\]/, /nofile=1024:2048/],
    [['--ulimit', 'files=10'], /unknown limit "files"/, /core, cpu, data/],
    [['--ulimit', 'nofile=ten'], /"ten" is not a limit/, /-1 for unlimited/],
    [['--ulimit', 'nofile=2048:1024'], /soft limit is above the hard limit/, /less than or equal/],
  ];
  for (const [flags, message, hint] of cases) {
    const r = await tsbuild(['build', ...flags, ctx], { root: await root() });
    t.is(r.code, 1, flags.join(' '));
    t.regex(r.stderr, message, flags.join(' '));
    t.regex(r.stderr, hint, flags.join(' '));
    t.notRegex(r.stderr, /\n\s+at /, 'no stack trace');
  }
});
