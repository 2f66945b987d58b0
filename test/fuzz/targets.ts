// What the fuzzer runs an input through, and what counts as a crash: anything but a result or a
// user error (a TsbuildError of kind user), including a tsbuild "bug" (TSB_INTERNAL) and a hang.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { FrontendInput, ResolvedImage } from '../../builder/frontend.js';
import { TsbuildError } from '../../common/errors.js';
import { dockerfileFrontend } from '../../frontend/convert.js';
import { applyLayer } from '../../snapshotter/apply.js';
import { writeTar, type TarInput } from '../../snapshotter/tar.js';
import { readTar } from '../../snapshotter/tarread.js';

export type Outcome = 'ok' | 'refused';

export interface Target {
  name: 'frontend' | 'tar';
  /** The starting inputs (the corpus' crashes are added by the runner). */
  seeds(): Promise<Buffer[]>;
  dictionary: Buffer[];
  maxSize: number;
  alignment: number;
  /** Resolves to the outcome; rejects with the crash. */
  run(input: Buffer): Promise<Outcome>;
}

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '..', '..');
export const corpusDir = (target: Target['name']): string => path.join(here, 'corpus', target);

/** A refusal is fine only as a user error; a TSB_INTERNAL or a foreign exception is a crash. */
function classify(e: unknown): Outcome {
  if (e instanceof TsbuildError && e.kind === 'user') return 'refused';
  throw e;
}

/** Input that resolves within `ms`, else a hang (a crash). */
export async function withDeadline<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`hang: no result in ${ms} ms`)), ms); })]);
  } finally {
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------------------------
// Frontend: parse, plan and convert a Dockerfile, and run its checks, with any base image resolving.

function fakeImage(ref: string): ResolvedImage {
  return {
    source: { type: 'image', ref, origin: { kind: 'store' }, manifestDigest: `sha256:${'0'.repeat(64)}`, platform: { os: 'linux', architecture: 'amd64' } },
    config: { architecture: 'amd64', os: 'linux', config: { Env: ['PATH=/usr/bin:/bin'], User: 'app', WorkingDir: '/w', OnBuild: ['RUN true'] }, rootfs: { type: 'layers', diff_ids: [] } },
  };
}

function frontendInput(dockerfile: string): FrontendInput {
  return {
    dockerfile,
    filename: 'Dockerfile',
    dockerignore: '*.tmp\n!keep.tmp\n**/x\n',
    buildArgs: new Map([['A', '1'], ['B', '${A}']]),
    platform: { os: 'linux', architecture: 'amd64' },
    resolveImage: async (ref) => fakeImage(ref),
  };
}

const DOCKERFILE_WORDS = [
  'FROM', 'AS', 'RUN', 'CMD', 'LABEL', 'EXPOSE', 'ENV', 'ADD', 'COPY', 'ENTRYPOINT', 'VOLUME', 'USER', 'WORKDIR', 'ARG', 'ONBUILD',
  'STOPSIGNAL', 'HEALTHCHECK', 'SHELL', 'MAINTAINER', '--from=', '--chown=', '--chmod=', '--link', '--parents', '--exclude=', '--mount=type=cache,target=/c',
  '--mount=type=secret,id=s', '--mount=type=bind,from=0,source=/,target=/m', '--network=none', '--platform=$BUILDPLATFORM', '# syntax=docker/dockerfile:1\n',
  '# escape=`\n', '# check=error=true\n', '<<EOF\n', '\nEOF\n', '<<-"EOT"\n', '${', '${a:-', '${a:+', '${a#', '${a%%', '${a/', '}', '$a', '\\\n', '`\n', '"', "'",
  '[', ']', '["sh", "-c"]', '=', ' ', '\n', '\t', '\r\n', '#', '*', '?', '**', '..', '/', 'scratch', 'busybox', '0', '65535', '1/udp', 'CMD-SHELL', '--interval=1s',
];

const SEED_FILES = async (): Promise<Buffer[]> => {
  const dir = path.join(repoRoot, 'test', 'corpus');
  const out: Buffer[] = [];
  for (const c of readdirSync(dir, { withFileTypes: true })) {
    if (!c.isDirectory()) continue;
    try {
      out.push(readFileSync(path.join(dir, c.name, 'Dockerfile')));
    } catch { /* a case with another file name */ }
  }
  return out;
};

export const frontendTarget: Target = {
  name: 'frontend',
  seeds: SEED_FILES,
  dictionary: DOCKERFILE_WORDS.map((w) => Buffer.from(w)),
  maxSize: 80 * 1024,
  alignment: 0,
  async run(input) {
    const df = input.toString('utf8');
    let outcome: Outcome = 'ok';
    for (const run of [dockerfileFrontend.build, dockerfileFrontend.check]) {
      try {
        await withDeadline(run(frontendInput(df)), 10_000);
      } catch (e) {
        outcome = classify(e);
      }
    }
    return outcome;
  },
};

// ---------------------------------------------------------------------------------------------
// Tar: read every entry and body; a fraction of inputs is also applied to a scratch directory.

const TAR_WORDS = [
  'ustar\0', 'ustar  \0', '00', 'path=', 'linkpath=', 'size=', 'uid=', 'mtime=', 'SCHILY.xattr.user.a=', 'GNU.sparse.map=', 'GNU.sparse.size=',
  'GNU.sparse.major=1\n', 'GNU.sparse.minor=0\n', 'GNU.sparse.realsize=', 'GNU.sparse.offset=', 'GNU.sparse.numbytes=', 'GNU.sparse.name=', '././@LongLink',
  '.wh.', '.wh..wh..opq', '../', '/etc/passwd', 'x', 'g', 'L', 'K', 'S', '0', '1', '2', '5', '\x80\0\0\0\0\0\0\0\0\0\0\x01', '\xff\xff\xff\xff\xff\xff\xff\xff',
];

/** A few archives to start from: ours (PAX, long names, xattrs, links, whiteouts) and GNU tar's (sparse forms, long names, v7). */
async function tarSeeds(): Promise<Buffer[]> {
  const base = { uid: 0, gid: 0, mtime: 1700000000, size: 0, mode: 0o644 };
  const entries: TarInput[] = [
    { entry: { ...base, path: 'd', type: 'dir', mode: 0o755 } },
    { entry: { ...base, path: 'd/f', type: 'file', size: 5 }, body: Buffer.from('hello') },
    { entry: { ...base, path: `${'long/'.repeat(40)}name`, type: 'file', size: 3, uid: 3_000_000, xattrs: new Map([['user.k', Buffer.from([0, 1, 2])]]) }, body: Buffer.from('abc') },
    { entry: { ...base, path: 'd/h', type: 'hardlink', linkname: 'd/f' } },
    { entry: { ...base, path: 'd/s', type: 'symlink', linkname: '../../outside' } },
    { entry: { ...base, path: 'd/.wh.gone', type: 'file' } },
  ];
  const parts: Buffer[] = [];
  for await (const c of writeTar(entries)) parts.push(c as Buffer);
  const seeds = [Buffer.concat(parts)];
  const scratch = mkdtempSync(path.join(tmpdir(), 'fuzz-seeds-'));
  try {
    const src = path.join(scratch, 'src');
    mkdirSync(path.join(src, 'deep'.repeat(30)), { recursive: true });
    writeFileSync(path.join(src, 'small'), 'data\n');
    execFileSync('truncate', ['-s', '3M', path.join(src, 'sparse')]);
    execFileSync('dd', [`of=${path.join(src, 'sparse')}`, 'bs=1', 'seek=1500000', 'conv=notrunc', 'status=none'], { input: 'abc' });
    const gnu = (flags: string[], names: string[]): void => {
      const out = path.join(scratch, 'x.tar');
      execFileSync('tar', ['-C', src, ...flags, '-cf', out, ...names]);
      seeds.push(readFileSync(out));
    };
    gnu(['--sparse', '--format=gnu'], ['sparse', 'small']);
    gnu(['--sparse', '--format=pax', '--sparse-version=0.0'], ['sparse']);
    gnu(['--sparse', '--format=pax', '--sparse-version=0.1'], ['sparse']);
    gnu(['--sparse', '--format=pax', '--sparse-version=1.0'], ['sparse', 'small']);
    gnu(['--format=gnu'], ['.']);
    gnu(['--format=v7'], ['small']);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  return seeds;
}

let applies = 0;

export const tarTarget: Target = {
  name: 'tar',
  seeds: tarSeeds,
  dictionary: TAR_WORDS.map((w) => Buffer.from(w, 'latin1')),
  maxSize: 64 * 1024,
  alignment: 512,
  async run(input) {
    // Odd chunk sizes, so header and record reads straddle chunk boundaries.
    const chunks: Buffer[] = [];
    for (let i = 0, n = 1 + (input.length % 700); i < input.length; i += n) chunks.push(input.subarray(i, i + n));
    try {
      await withDeadline((async () => {
        for await (const { body } of readTar(Readable.from(chunks))) for await (const _ of body) { /* drain */ }
      })(), 10_000);
    } catch (e) {
      return classify(e);
    }
    // Every 8th readable input also goes through layer apply (containment, sparse writes, links).
    if (applies++ % 8 !== 0) return 'ok';
    const dir = mkdtempSync(path.join(tmpdir(), 'fuzz-apply-'));
    try {
      await withDeadline(applyLayer(Readable.from([input]), path.join(dir, 't'), { whiteouts: 'delete' }), 10_000);
      return 'ok';
    } catch (e) {
      return classify(e);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

export const targets = { frontend: frontendTarget, tar: tarTarget } as const;
