import test, { type ExecutionContext } from 'ava';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findExecutable } from '../../common/executable.js';

// PATH is process-wide: these tests change it, so they run one at a time and restore it.
function withPath(t: ExecutionContext, value: string | undefined): void {
  const saved = process.env.PATH;
  if (value === undefined) delete process.env.PATH;
  else process.env.PATH = value;
  t.teardown(() => {
    if (saved === undefined) delete process.env.PATH;
    else process.env.PATH = saved;
  });
}

function tree(t: ExecutionContext): { a: string; b: string } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tsbuild-exec-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const a = path.join(dir, 'a');
  const b = path.join(dir, 'b');
  mkdirSync(a);
  mkdirSync(b);
  writeFileSync(path.join(a, 'tool'), 'not executable');
  writeFileSync(path.join(b, 'tool'), '#!/bin/sh\n');
  chmodSync(path.join(b, 'tool'), 0o755);
  writeFileSync(path.join(b, 'other'), '#!/bin/sh\n');
  chmodSync(path.join(b, 'other'), 0o755);
  return { a, b };
}

test.serial('the first executable in PATH order; a file that is not executable is passed over', (t) => {
  const { a, b } = tree(t);
  withPath(t, `${a}::${b}`);
  t.is(findExecutable('tool'), path.join(b, 'tool'));
  t.is(findExecutable('missing'), undefined);
});

test.serial('extra directories are searched after PATH', (t) => {
  const { a, b } = tree(t);
  withPath(t, a);
  t.is(findExecutable('other'), undefined);
  t.is(findExecutable('other', [b]), path.join(b, 'other'));
});

test.serial('a name with a slash is a path, not looked up', (t) => {
  const { a, b } = tree(t);
  withPath(t, b);
  t.is(findExecutable(path.join(b, 'tool')), path.join(b, 'tool'));
  t.is(findExecutable(path.join(a, 'tool')), undefined);
});

test.serial('without PATH, /usr/bin and /bin are searched', (t) => {
  withPath(t, undefined);
  t.truthy(findExecutable('sh'));
});
