// The one dispatch walk behind build and --check: --check reports what a build reports, sees the
// target platform and the base image's env; every error is a located TsbuildError with a hint.
import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { FrontendInput, ResolvedImage } from '../../builder/frontend.js';
import type { CopyAction, Vertex } from '../../builder/graph.js';
import { ErrorCodes, TsbuildError } from '../../common/errors.js';
import type { Platform } from '../../common/oci.js';
import { convertDockerfile, dockerfileFrontend } from '../../frontend/convert.js';
import { sharedDir } from '../helpers/cli.js';

const amd64: Platform = { os: 'linux', architecture: 'amd64' };

interface FakeImage {
  env?: string[];
  platform?: Platform;
  onBuild?: string[];
}

/** A resolver over `images` that records what it was asked for; anything else is not found. */
function resolver(images: Record<string, FakeImage>, asked: string[] = []): FrontendInput['resolveImage'] {
  return async (ref): Promise<ResolvedImage> => {
    asked.push(ref);
    const img = images[ref];
    if (!img) throw Object.assign(new Error(`image not found: ${ref}`), { hint: 'build or pull it first' });
    const p = img.platform ?? amd64;
    return {
      source: { type: 'image', ref, origin: { kind: 'store' }, manifestDigest: `sha256:${'a'.repeat(64)}`, platform: p },
      config: { architecture: p.architecture, os: p.os, config: { Env: img.env ?? [], OnBuild: img.onBuild ?? null }, rootfs: { type: 'layers', diff_ids: [] } },
    };
  };
}

function input(dockerfile: string, extra: Partial<FrontendInput> = {}): FrontendInput {
  return { dockerfile, filename: 'Dockerfile', buildArgs: new Map(), platform: amd64, resolveImage: resolver({ img: {} }), ...extra };
}

const rulesFound = (ws: Array<{ rule: string; location?: { startLine: number } }>, rule: string) => ws.filter((w) => w.rule === rule).map((w) => w.location?.startLine);

function vertices(root: Vertex): Vertex[] {
  const seen = new Set<Vertex>();
  const visit = (v: Vertex): void => {
    if (seen.has(v)) return;
    seen.add(v);
    v.inputs.forEach(visit);
  };
  visit(root);
  return [...seen];
}

test("build --check fails with file:line on BuildKit's four negative parser files", async (t) => {
  const dir = path.join(sharedDir, 'oracle', 'buildkit-parser', 'testfiles-negative');
  const cases = readdirSync(dir).sort();
  t.is(cases.length, 4);
  for (const name of cases) {
    const text = readFileSync(path.join(dir, name, 'Dockerfile'), 'utf8');
    const e = await t.throwsAsync(dockerfileFrontend.check(input(text)), { instanceOf: TsbuildError }, name);
    t.is(e?.location?.file, 'Dockerfile', name);
    t.true((e?.location?.startLine ?? 0) >= 1, name);
    t.true(e?.code === 'TSB_DOCKERFILE_SYNTAX' || e?.code === 'TSB_DOCKERFILE_INVALID', name);
    t.truthy(e?.hint, name);
    t.log(`${name}: Dockerfile:${e?.location?.startLine}: ${e?.message}`);
  }
});

test('UndefinedVar: reported only when the base image env does not define the variable', async (t) => {
  const src = 'FROM python AS base\nWORKDIR /src/$PYTHON_VERSION\nFROM base\nRUN true\nLABEL v=$PYTHON_VERSION h=$HOME\n';
  const withEnv = resolver({ python: { env: ['PATH=/usr/local/bin', 'PYTHON_VERSION=3.12'] } });
  const without = resolver({ python: { env: ['PATH=/usr/local/bin'] } });
  const check = async (resolveImage: FrontendInput['resolveImage']) => (await dockerfileFrontend.check(input(src, { resolveImage }))).warnings.filter((w) => w.rule === 'UndefinedVar').map((w) => [w.message, w.location?.startLine]);
  t.deepEqual(await check(withEnv), [["Usage of undefined variable '$HOME'", 5]]);
  t.deepEqual(await check(without), [
    ["Usage of undefined variable '$PYTHON_VERSION'", 2],
    ["Usage of undefined variable '$PYTHON_VERSION'", 5],
    ["Usage of undefined variable '$HOME'", 5],
  ]);
  // a build's walk knows the env as well
  t.deepEqual(rulesFound((await convertDockerfile(input(src, { resolveImage: withEnv }))).warnings, 'UndefinedVar'), [5]);
});

test('--check reports the errors a build reports, in every stage unless a target is named', async (t) => {
  const src = 'FROM img AS a\nEXPOSE eighty\nFROM img\nRUN true\n';
  await t.notThrowsAsync(convertDockerfile(input(src)));
  const fromBuild = await t.throwsAsync(convertDockerfile(input(src, { target: 'a' })), { instanceOf: TsbuildError });
  const fromCheck = await t.throwsAsync(dockerfileFrontend.check(input(src)), { instanceOf: TsbuildError });
  t.deepEqual(fromCheck?.toJSON(), fromBuild?.toJSON());
  t.is(fromCheck?.location?.startLine, 2);
  // with a target, only what the target needs
  await t.notThrowsAsync(dockerfileFrontend.check(input('FROM img AS a\nEXPOSE eighty\nFROM img AS b\nRUN true\n', { target: 'b' })));
  // and an image that cannot be resolved fails both, at the instruction using it
  const missing = await t.throwsAsync(dockerfileFrontend.check(input('FROM img\nCOPY --from=nowhere /x /y\n')), { instanceOf: TsbuildError });
  t.like(missing, { code: 'TSB_IMAGE_NOT_FOUND', location: { file: 'Dockerfile', startLine: 2, endLine: 2 }, hint: 'build or pull it first' });
});

test('the walk uses the target platform: automatic ARGs, --platform, the base image platform', async (t) => {
  const arm64: Platform = { os: 'linux', architecture: 'arm64', variant: 'v8' };
  const asked: string[] = [];
  const resolveImage = resolver({ 'img:arm64': { platform: arm64 }, 'img:amd64': {} }, asked);
  const src = 'FROM img:${TARGETARCH} AS build\nFROM --platform=$TARGETPLATFORM img:${TARGETARCH}\nFROM --platform=linux/arm64 img:arm64\n';
  const { warnings } = await dockerfileFrontend.check(input(src, { platform: arm64, resolveImage }));
  t.deepEqual(asked, ['img:arm64']);
  t.deepEqual(rulesFound(warnings, 'RedundantTargetPlatform'), [2]);
  t.deepEqual(rulesFound(warnings, 'FromPlatformFlagConstDisallowed'), [3]);
  t.deepEqual(rulesFound(warnings, 'InvalidBaseImagePlatform'), []);
  // a base image for another platform than the build's
  const other = await dockerfileFrontend.check(input('FROM img:amd64\n', { platform: arm64, resolveImage }));
  t.deepEqual(other.warnings.map((w) => w.message), ['Base image img:amd64 was pulled with platform "linux/amd64", expected "linux/arm64/v8" for current build']);
});

test('TARGETSTAGE and the global ARGs are the same in a build and in --check', async (t) => {
  const src = 'ARG A=1\nARG B=${A}2\nFROM img AS first\nARG TARGETSTAGE\nARG B\nRUN echo\nFROM img AS second\nRUN echo\n';
  const { definition } = await convertDockerfile(input(src, { target: 'first' }));
  const env = (definition.root.op as { env: string[] }).env;
  t.true(env.includes('TARGETSTAGE=first'));
  t.true(env.includes('B=12'), 'a global default expands against the global ARGs before it');
  t.deepEqual((await dockerfileFrontend.check(input(src))).warnings, []);
});

test("a base image's ONBUILD triggers run first and can bring in more stages", async (t) => {
  const src = 'FROM img AS helper\nRUN make\nFROM triggered\nRUN true\n';
  const resolveImage = resolver({ img: {}, triggered: { onBuild: ['COPY --from=helper /out /out'] } });
  const { definition } = await convertDockerfile(input(src, { resolveImage }));
  const names = vertices(definition.root).map((v) => v.name);
  t.true(names.includes('[helper 2/2] RUN make'), names.join(', '));
  t.true(names.includes('[stage-1 2/3] COPY --from=helper /out /out'), names.join(', '));
  t.is(definition.config.config.OnBuild, null);
});

test('--from and mount from= name a stage or an image literally, as BuildKit', async (t) => {
  for (const line of ['COPY --from=$SRC /a /b', 'RUN --mount=from=$SRC,target=/m true']) {
    const e = await t.throwsAsync(dockerfileFrontend.check(input(`ARG SRC=img\nFROM img\n${line}\n`)), { instanceOf: TsbuildError });
    t.is(e?.location?.startLine, 3, line);
    t.regex(e?.message ?? '', /variable expansion/, line);
  }
});

test('--chmod reaches the graph parsed: octal or symbolic clauses', async (t) => {
  const { definition } = await convertDockerfile(input('FROM img\nCOPY --chmod=0640 a /a\nCOPY --chmod=u=rwX,go=rX b /b\n'));
  const [octal, symbolic] = vertices(definition.root)
    .flatMap((v) => (v.op.kind === 'file' ? (v.op.actions as CopyAction[]) : []))
    .sort((x, y) => x.dest.localeCompare(y.dest))
    .map((a) => a.chmod);
  t.deepEqual(octal, { kind: 'octal', mode: 0o640 });
  t.is(symbolic?.kind, 'symbolic');
  t.is(symbolic?.kind === 'symbolic' ? symbolic.clauses.length : 0, 2);
});

/** [Dockerfile, the line its error is at]: every kind of mistake the frontend reports. */
const mistakes: Array<[string, number]> = [
  ['', 1],
  ['# escape=x\nFROM img\n', 1],
  ['# check=skip=A;oops\nFROM img\n', 1],
  ['RUN true\n', 1],
  ['ARG X=1\n', 1],
  ['FROM img\nRUNN true\n', 2],
  ['FROM img\nCOPY --fromm=x a b\n', 2],
  ['FROM img\nCOPY --link=maybe a b\n', 2],
  ['FROM img\nCOPY --from a b\n', 2],
  ['FROM img\nRUN --device=x true\n', 2],
  ['FROM img\nARG\n', 2],
  ['FROM img\nARG 1abc=2\n', 2],
  ['FROM img\nENV PATH\n', 2],
  ['FROM img\nLABEL a=1 b\n', 2],
  ['FROM img\nENV ${X}=1\n', 2],
  ['FROM img\nSHELL /bin/sh -c\n', 2],
  ['FROM img\nHEALTHCHECK --interval=soon CMD true\n', 2],
  ['FROM img\nHEALTHCHECK EVERY true\n', 2],
  ['FROM img\nONBUILD ONBUILD RUN true\n', 2],
  ['FROM img\nONBUILD NOPE x\n', 2],
  ['FROM img a\n', 1],
  ['FROM img AS 1st\n', 1],
  ['FROM img AS a\nFROM img AS a\n', 2],
  ['FROM $NOTHING\n', 1],
  ['FROM img AS a\nFROM b AS c\nFROM img AS b\nFROM c\n', 2],
  ['FROM --platform=linux/z80 img\n', 1],
  ['FROM nosuchimage\n', 1],
  ['FROM img\nWORKDIR ${X\n', 2],
  ['FROM img\nRUN <<EOF\ntrue\n', 2],
  ['FROM img AS a\nCOPY --from=a /x /y\n', 2],
  ['FROM img\nCOPY --from=3 /x /y\n', 2],
  ['FROM img AS a\nCOPY --from=b /x /y\nFROM img AS b\nFROM a\n', 2],
  ['FROM img\nCOPY --chmod=rwx a b\n', 2],
  ['FROM img\nADD --checksum=md5:1 https://example.com/f /f\n', 2],
  ['FROM img\nCOPY onlyone\n', 2],
  ['FROM img\nCOPY https://example.com/f /f\n', 2],
  ['FROM img\nADD https://[bad /f\n', 2],
  ['FROM img\nCOPY ../outside /x\n', 2],
  ['FROM img\nRUN --mount=type=bind,taget=/x true\n', 2],
  ['FROM img\nRUN --mount=type=nfs,target=/x true\n', 2],
  ['FROM img\nRUN --mount=type=cache true\n', 2],
  ['FROM img\nRUN --network=bridge true\n', 2],
  ['FROM img\nSTOPSIGNAL SIGNOPE\n', 2],
  ['FROM img\nEXPOSE 80/http\n', 2],
  ['FROM img\nWORKDIR $NOTHING\n', 2],
  ['FROM img\nUSER $NOTHING\n', 2],
];

test('every frontend error is a located TsbuildError with a documented code and a hint', async (t) => {
  for (const [src, line] of mistakes) {
    for (const run of [convertDockerfile, dockerfileFrontend.check]) {
      const e = await t.throwsAsync(run(input(src)), { instanceOf: TsbuildError }, JSON.stringify(src));
      t.true(e!.code in ErrorCodes, src);
      t.is(e!.kind, 'user', src);
      t.truthy(e!.hint, src);
      t.is(e!.location?.file, 'Dockerfile', src);
      t.is(e!.location?.startLine, line, `${JSON.stringify(src)}: ${e!.message}`);
    }
  }
});
