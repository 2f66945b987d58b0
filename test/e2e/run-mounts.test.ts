// RUN --mount (bind, cache, tmpfs, secret), --network, --security and heredoc forms, on built images.
import test from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { makeContext, runSh, sharedStore, tmpDir, tsbuild, tsbuildOk } from '../helpers/cli.js';

const root = sharedStore();
const run = async (image: string, script: string): Promise<string> => runSh(await root(), image, script);

test('bind mounts from the context and from a stage; rw writes are thrown away; no stubs left in the layer', async (t) => {
  const ctx = makeContext({
    Dockerfile: [
      'FROM busybox AS tools',
      'RUN echo tool > /tool',
      'FROM busybox',
      'RUN --mount=type=bind,source=src,target=/mnt/src cat /mnt/src/in.txt > /from-bind',
      'RUN --mount=type=bind,from=tools,source=/tool,target=/t,rw echo changed > /t && cat /t > /from-stage',
      'RUN --mount=from=tools,target=/all ls /all > /listing',
      '',
    ].join('\n'),
    'src/in.txt': 'from context\n',
  });
  await tsbuildOk(['build', '-t', 'mounts:bind', ctx], { root: await root() });
  t.is(await run('mounts:bind', 'cat /from-bind /from-stage'), 'from context\nchanged\n');
  t.regex(await run('mounts:bind', 'cat /listing'), /^tool$/m);
  t.is(await run('mounts:bind', 'ls -d /mnt /t /all 2>&1 | wc -l; ls /mnt /t /all 2>/dev/null | wc -l'), '3\n0\n');
});

test('a changed file under a bind-mounted context path reruns the step', async (t) => {
  const ctx = makeContext({ Dockerfile: 'FROM busybox\nRUN --mount=target=/src cat /src/v > /v\n', v: 'one\n' });
  await tsbuildOk(['build', '-t', 'mounts:key', ctx], { root: await root() });
  writeFileSync(path.join(ctx, 'v'), 'two\n');
  await tsbuildOk(['build', '-t', 'mounts:key', ctx], { root: await root() });
  t.is(await run('mounts:key', 'cat /v'), 'two\n');
});

test('cache mounts persist across builds, outside the image, with mode/uid/gid', async (t) => {
  const ctx = makeContext({ Dockerfile: 'FROM busybox\nARG N\nRUN --mount=type=cache,target=/cache,id=t-counter,uid=123,mode=0700 echo $N >> /cache/log && cat /cache/log | wc -l > /count && stat -c "%u %a" /cache > /meta\n' });
  await tsbuildOk(['build', '-t', 'mounts:cache', '--build-arg', 'N=1', ctx], { root: await root() });
  await tsbuildOk(['build', '-t', 'mounts:cache', '--build-arg', 'N=2', ctx], { root: await root() });
  t.is(await run('mounts:cache', 'cat /count /meta; ls /cache 2>&1 | head -1'), '2\n123 700\nls: /cache: No such file or directory\n');
});

test('tmpfs mounts, --network=none, and secrets as files and env (never in the image)', async (t) => {
  const secretFile = path.join(tmpDir(), 'token');
  writeFileSync(secretFile, 'hunter2');
  const ctx = makeContext({
    Dockerfile: [
      'FROM busybox',
      'RUN --mount=type=tmpfs,target=/scratch,size=2m df -k /scratch | tail -1 | awk \'{print $2}\' > /size',
      'RUN --network=none cat /proc/net/dev | grep -c : > /ifaces',
      'RUN --mount=type=secret,id=tok,required=true wc -c < /run/secrets/tok > /secret-len',
      'RUN --mount=type=secret,id=tok,env=TOKEN,target=/s test "${#TOKEN}" = 7 && cat /s > /dev/null && echo ok > /secret-env',
      'RUN --mount=type=secret,id=missing echo optional-ok > /optional',
      '',
    ].join('\n'),
  });
  const r = await tsbuildOk(['build', '-t', 'mounts:misc', '--progress=plain', '--secret', `id=tok,src=${secretFile}`, '--output', `type=oci,dest=${path.join(tmpDir(), 'o.tar')}`, ctx], { root: await root() });
  t.false(r.stderr.includes('hunter2'));
  t.is(await run('mounts:misc', 'cat /size /ifaces /secret-len /secret-env /optional; ls /run/secrets 2>&1; true'), '2048\n1\n7\nok\noptional-ok\nls: /run/secrets: No such file or directory\n');
  // The secret never reaches the store: no blob or snapshot file contains it.
  const found = await tsbuild(['run', 'mounts:misc', 'true'], { root: await root() });
  t.is(found.code, 0);
  const { execFileSync } = await import('node:child_process');
  const hits = execFileSync('sh', ['-c', `grep -rl hunter2 ${await root()} || true`], { encoding: 'utf8' });
  t.is(hits, '');
  const missing = await tsbuild(['build', makeContext({ Dockerfile: 'FROM busybox\nRUN --mount=type=secret,id=tok,required=true true\n' })], { root: await root() });
  t.is(missing.code, 1);
  t.regex(missing.stderr, /secret tok is required but was not provided/);
  t.regex(missing.stderr, /--secret id=tok/);
});

test('--security=insecure needs --allow security.insecure', async (t) => {
  const ctx = makeContext({ Dockerfile: 'FROM busybox\nRUN --security=insecure grep CapEff /proc/self/status > /caps\n' });
  const denied = await tsbuild(['build', ctx], { root: await root() });
  t.is(denied.code, 1);
  t.regex(denied.stderr, /--allow security\.insecure/);
  await tsbuildOk(['build', '-t', 'mounts:insecure', '--allow', 'security.insecure', ctx], { root: await root() });
  t.regex(await run('mounts:insecure', 'cat /caps'), /CapEff:\s+000001ffffffffff|CapEff:\s+0000003fffffffff|CapEff:\s+000001fffeffffff/);
});

test('RUN heredocs: script, shebang script, several documents on one line; HOME from passwd', async (t) => {
  const ctx = makeContext({
    Dockerfile: [
      'FROM busybox',
      'RUN <<EOF',
      'echo "first $HOME" > /a',
      'echo second >> /a',
      'EOF',
      'RUN <<EOF',
      '#!/bin/sh',
      'echo "shebang $0" > /b',
      'EOF',
      'RUN cat <<X > /c && cat <<-Y >> /c',
      'one',
      'X',
      '\ttwo',
      '\tY',
      '',
    ].join('\n'),
  });
  await tsbuildOk(['build', '-t', 'heredocs:run', ctx], { root: await root() });
  t.is(await run('heredocs:run', 'cat /a /b /c'), 'first /root\nsecond\nshebang /dev/pipes/EOF\none\ntwo\n');
  void readFileSync;
});
