// The build checks (BuildKit's linter rules), run by the dispatch walk. Most cases use the CLI's
// resolver-less check, where base images' env is unknown; test/frontend/walk.test.ts has the cases
// with a resolver.
import test from 'ava';
import type { FrontendInput, ResolvedImage } from '../../builder/frontend.js';
import type { TsbuildError } from '../../common/errors.js';
import { parseCheckDirective } from '../../frontend/checks/directive.js';
import { isValidImageReference } from '../../frontend/checks/from.js';
import { lintViolation, rules } from '../../frontend/checks/rules.js';
import { checkDockerfile, convertDockerfile } from '../../frontend/convert.js';
import { DockerfileError } from '../../frontend/errors.js';

interface Options {
  buildArgs?: Map<string, string>;
  target?: string;
  dockerignore?: string;
}

/** `build --check` without an image resolver: every stage unless a target is named. */
function run(src: string, opts: Options = {}) {
  return checkDockerfile({ dockerfile: src, filename: 'Dockerfile', buildArgs: new Map(), platform: { os: 'linux', architecture: 'amd64' }, ...opts });
}

/** [rule, message, line] of every warning. */
function found(src: string, opts: Options = {}): Array<[string, string, number]> {
  return run(src, opts).warnings.map((w) => [w.rule, w.message, w.location?.startLine ?? 0]);
}

function only(src: string, rule: string, opts: Options = {}): Array<[string, number]> {
  return found(src, opts).filter(([r]) => r === rule).map(([, m, l]) => [m, l]);
}

const anyImage = async (ref: string): Promise<ResolvedImage> => ({
  source: { type: 'image', ref, origin: { kind: 'store' }, manifestDigest: `sha256:${'a'.repeat(64)}`, platform: { os: 'linux', architecture: 'amd64' } },
  config: { architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [] } },
});

/** The warnings of a build (only the stages its target needs). */
async function buildWarnings(src: string, rule: string, extra: Partial<FrontendInput> = {}): Promise<number[]> {
  const r = await convertDockerfile({ dockerfile: src, filename: 'Dockerfile', buildArgs: new Map(), platform: { os: 'linux', architecture: 'amd64' }, resolveImage: anyImage, ...extra });
  return r.warnings.filter((w) => w.rule === rule).map((w) => w.location!.startLine);
}

test('a clean Dockerfile has no warnings', (t) => {
  const src = 'ARG BASE=alpine:3.20\nFROM ${BASE} AS build\nWORKDIR /src\nARG VERSION=1\nENV APP_VERSION=$VERSION\nCOPY . .\nRUN make\nFROM scratch\nCOPY --from=build /src/app /app\nEXPOSE 8080/tcp\nENTRYPOINT ["/app"]\nCMD ["serve"]\n';
  t.deepEqual(found(src), []);
});

test('every rule has BuildKit’s docs URL', (t) => {
  for (const [name, r] of Object.entries(rules)) {
    const kebab = name.replace(/^JSON/, 'Json').replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
    t.is(r.url, `https://docs.docker.com/go/dockerfile/rule/${kebab}/`, name);
  }
  t.is(rules.JSONArgsRecommended!.url, 'https://docs.docker.com/go/dockerfile/rule/json-args-recommended/');
  const w = run('FROM alpine\nCMD x\n').warnings[0]!;
  t.is(w.url, rules.JSONArgsRecommended!.url);
  t.is(w.description, rules.JSONArgsRecommended!.description);
  t.deepEqual(w.location, { file: 'Dockerfile', startLine: 2, endLine: 2 });
});

test('StageNameCasing', (t) => {
  t.deepEqual(only('FROM alpine AS Build\n', 'StageNameCasing'), [["Stage name 'Build' should be lowercase", 1]]);
  t.deepEqual(only('FROM alpine AS build\n', 'StageNameCasing'), []);
});

test('FromAsCasing', (t) => {
  t.deepEqual(only('FROM alpine as build\n', 'FromAsCasing'), [["'as' and 'FROM' keywords' casing do not match", 1]]);
  t.deepEqual(only('from alpine AS build\n', 'FromAsCasing'), [["'AS' and 'from' keywords' casing do not match", 1]]);
  t.deepEqual(only('FROM alpine AS build\nfrom alpine as b2\nFrom alpine as b3\n', 'FromAsCasing'), []);
});

test('NoEmptyContinuation comes from the parser but goes through lint', (t) => {
  const src = 'FROM alpine\nRUN echo a \\\n\n  && echo b\n';
  t.deepEqual(only(src, 'NoEmptyContinuation'), [['Empty continuation line', 2]]);
  t.deepEqual(run(src).warnings[0]!.location, { file: 'Dockerfile', startLine: 2, endLine: 4 });
  t.deepEqual(only('FROM alpine\nRUN echo a \\\n  && echo b\n', 'NoEmptyContinuation'), []);
  t.deepEqual(only(`# check=skip=NoEmptyContinuation\n${src}`, 'NoEmptyContinuation'), []);
});

test('ConsistentInstructionCasing against the majority', (t) => {
  t.deepEqual(only('FROM alpine\nrun echo\nRun echo\nCMD ["x"]\n', 'ConsistentInstructionCasing'), [
    ["Command 'run' should match the case of the command majority (uppercase)", 2],
    ["Command 'Run' should match the case of the command majority (uppercase)", 3],
  ]);
  t.deepEqual(only('from alpine\nrun echo\nCMD ["x"]\n', 'ConsistentInstructionCasing'), [["Command 'CMD' should match the case of the command majority (lowercase)", 3]]);
  t.deepEqual(only('from alpine\nrun echo\ncmd ["x"]\n', 'ConsistentInstructionCasing'), []);
});

test('duplicate and reserved stage names are errors in tsbuild (BuildKit only warns: DuplicateStageName, ReservedStageName)', (t) => {
  t.like(t.throws(() => run('FROM alpine AS a\nFROM alpine AS A\n'), { instanceOf: DockerfileError, message: 'duplicate stage name "a"' }), { location: { file: 'Dockerfile', startLine: 2, endLine: 2 } });
  t.throws(() => run('FROM alpine AS scratch\n'), { message: '"scratch" is a reserved stage name' });
  t.throws(() => run('FROM alpine AS b\nFROM alpine AS context\n'), { message: '"context" is a reserved stage name' });
  t.deepEqual(found('FROM alpine AS a\nFROM alpine AS b\nFROM alpine AS ctx\n'), []);
});

test('JSONArgsRecommended for shell-form CMD/ENTRYPOINT unless SHELL was set in the stage chain', (t) => {
  t.deepEqual(only('FROM alpine\nENTRYPOINT my-app start\nCMD run --flag\n', 'JSONArgsRecommended'), [
    ['JSON arguments recommended for ENTRYPOINT to prevent unintended behavior related to OS signals', 2],
    ['JSON arguments recommended for CMD to prevent unintended behavior related to OS signals', 3],
  ]);
  t.deepEqual(only('FROM alpine\nCMD ["a"]\n', 'JSONArgsRecommended'), []);
  t.deepEqual(only('FROM alpine\nSHELL ["/bin/bash", "-c"]\nCMD echo hi\n', 'JSONArgsRecommended'), []);
  t.deepEqual(only('FROM alpine AS base\nSHELL ["/bin/bash", "-c"]\nFROM base\nCMD echo hi\n', 'JSONArgsRecommended'), []);
  t.deepEqual(only('FROM alpine\nHEALTHCHECK CMD curl x\n', 'JSONArgsRecommended'), []);
});

test('MaintainerDeprecated', (t) => {
  t.deepEqual(only('FROM alpine\nMAINTAINER me <me@x>\n', 'MaintainerDeprecated'), [['Maintainer instruction is deprecated in favor of using label', 2]]);
  t.deepEqual(only('FROM alpine\nLABEL org.opencontainers.image.authors=me\n', 'MaintainerDeprecated'), []);
});

test('UndefinedArgInFrom, with a suggestion', (t) => {
  t.deepEqual(only('ARG VERSION=3\nFROM alpine:${VERSON}\n', 'UndefinedArgInFrom'), [["FROM argument 'VERSON' is not declared (did you mean VERSION?)", 2]]);
  t.deepEqual(only('FROM alpine:${TAG}\n', 'UndefinedArgInFrom'), [["FROM argument 'TAG' is not declared", 1]]);
  t.deepEqual(only('FROM --platform=${PLATFORM:-linux/amd64} alpine\n', 'UndefinedArgInFrom'), [["FROM argument 'PLATFORM' is not declared", 1]]);
  // declared without a value, automatic platform args, declared and given
  t.deepEqual(only('ARG VARIANT\nFROM --platform=$BUILDPLATFORM alpine${VARIANT}\n', 'UndefinedArgInFrom'), []);
});

test('WorkdirRelativePath only before an absolute WORKDIR in the stage chain', (t) => {
  t.deepEqual(only('FROM alpine\nWORKDIR app\nWORKDIR sub\n', 'WorkdirRelativePath'), [['Relative workdir "app" can have unexpected results if the base image changes', 2]]);
  t.deepEqual(only('FROM alpine\nWORKDIR /app\nWORKDIR sub\n', 'WorkdirRelativePath'), []);
  t.deepEqual(only('FROM alpine AS base\nWORKDIR /app\nFROM base\nWORKDIR sub\n', 'WorkdirRelativePath'), []);
  t.deepEqual(only('FROM alpine\nARG DIR=/srv\nWORKDIR $DIR\n', 'WorkdirRelativePath'), []);
});

test('UndefinedVar: scratch stages know their whole env', (t) => {
  t.deepEqual(only('FROM scratch\nCOPY x$foo .\n', 'UndefinedVar'), [["Usage of undefined variable '$foo'", 2]]);
  t.deepEqual(only('FROM scratch\nARG foo\nCOPY x$foo .\n', 'UndefinedVar'), []);
  t.deepEqual(only('FROM scratch\nENV foo=x\nCOPY ${foo:-y} .\nWORKDIR $PATH\n', 'UndefinedVar'), []);
  t.deepEqual(only('FROM scratch\nARG VERSION=$foo\n', 'UndefinedVar'), [["Usage of undefined variable '$foo'", 2]]);
  // the value used is the one from before the instruction
  t.deepEqual(only('FROM scratch\nENV a=1 b=$a\n', 'UndefinedVar'), [["Usage of undefined variable '$a'", 2]]);
  // RUN/CMD/ENTRYPOINT are left to the shell; proxies and build-only args are never reported
  t.deepEqual(only('FROM scratch\nRUN echo $nope\nCMD echo $nope\nLABEL p=$HTTP_PROXY\n', 'UndefinedVar'), []);
});

test('UndefinedVar: a near-miss gets a suggestion', (t) => {
  t.deepEqual(only('FROM alpine\nENV PATH=$PAHT:/app/bin\n', 'UndefinedVar'), [["Usage of undefined variable '$PAHT' (did you mean $PATH?)", 2]]);
});

test('UndefinedVar: without an image resolver the base image env is unknown, treated conservatively', (t) => {
  // python's env is unknown: $HOME, $PYTHON_VERSION may come from the image
  t.deepEqual(only('FROM python\nARG V=$PYTHON_VERSION\nWORKDIR /home/$HOME\n', 'UndefinedVar'), []);
  // an automatic platform ARG not redeclared in the stage is empty there: always reported
  t.deepEqual(only('FROM alpine\nWORKDIR /out/$TARGETARCH\n', 'UndefinedVar'), [["Usage of undefined variable '$TARGETARCH'", 2]]);
  t.deepEqual(only('FROM alpine\nARG TARGETARCH\nWORKDIR /out/$TARGETARCH\n', 'UndefinedVar'), []);
  // with the image env known it is exact, as BuildKit: see walk.test.ts
});

test('MultipleInstructionsDisallowed points at the ignored (earlier) instruction', (t) => {
  t.deepEqual(only('FROM alpine\nCMD ["a"]\nENTRYPOINT ["e"]\nCMD ["b"]\nHEALTHCHECK NONE\nHEALTHCHECK CMD x\n', 'MultipleInstructionsDisallowed'), [
    ['Multiple CMD instructions should not be used in the same stage because only the last one will be used', 2],
    ['Multiple HEALTHCHECK instructions should not be used in the same stage because only the last one will be used', 5],
  ]);
  t.deepEqual(only('FROM alpine AS a\nCMD ["a"]\nFROM a\nCMD ["b"]\n', 'MultipleInstructionsDisallowed'), []);
});

test('LegacyKeyValueFormat', (t) => {
  t.deepEqual(only('FROM alpine\nENV A 1\nLABEL b c d\nenv C 2\n', 'LegacyKeyValueFormat'), [
    ['"ENV key=value" should be used instead of legacy "ENV key value" format', 2],
    ['"LABEL key=value" should be used instead of legacy "LABEL key value" format', 3],
    ['"env key=value" should be used instead of legacy "env key value" format', 4],
  ]);
  t.deepEqual(only('FROM alpine\nENV A=1 B="x y"\nLABEL b=c\n', 'LegacyKeyValueFormat'), []);
});

test('SecretsUsedInArgOrEnv with BuildKit’s token list and the public exception', (t) => {
  t.deepEqual(only('FROM alpine\nARG AWS_SECRET_ACCESS_KEY\nENV GITHUB_TOKEN=x DB_PASSWORD=y\nARG apikey\n', 'SecretsUsedInArgOrEnv'), [
    ['Do not use ARG or ENV instructions for sensitive data (ARG "AWS_SECRET_ACCESS_KEY")', 2],
    ['Do not use ARG or ENV instructions for sensitive data (ENV "GITHUB_TOKEN")', 3],
    ['Do not use ARG or ENV instructions for sensitive data (ENV "DB_PASSWORD")', 3],
    ['Do not use ARG or ENV instructions for sensitive data (ARG "apikey")', 4],
  ]);
  t.deepEqual(only('FROM alpine\nARG PUBLIC_KEY\nENV KEYBOARD=us MONKEY=1 AUTHOR=me\nLABEL secret=x\n', 'SecretsUsedInArgOrEnv'), []);
});

test('InvalidDefaultArgInFrom', (t) => {
  t.deepEqual(only('ARG TAG\nFROM busybox:${TAG}\n', 'InvalidDefaultArgInFrom'), [['Default value for ARG busybox:${TAG} results in empty or invalid base image name', 2]]);
  // (without a --build-arg, the empty base name fails the build)
  t.deepEqual(only('ARG IMAGE\nFROM $IMAGE\n', 'InvalidDefaultArgInFrom', { buildArgs: new Map([['IMAGE', 'alpine']]) }), [['Default value for ARG $IMAGE results in empty or invalid base image name', 2]]);
  // build args do not hide it: the Dockerfile must be valid without them
  t.deepEqual(only('ARG TAG\nFROM busybox:${TAG}\n', 'InvalidDefaultArgInFrom', { buildArgs: new Map([['TAG', '1']]) }).length, 1);
  t.deepEqual(only('ARG TAG=latest\nFROM busybox:${TAG}\nARG VARIANT\nFROM busybox:stable${VARIANT}\n', 'InvalidDefaultArgInFrom'), []);
});

test('FromPlatformFlagConstDisallowed unless the stage name mentions the platform', (t) => {
  t.deepEqual(only('FROM --platform=linux/amd64 alpine AS build\n', 'FromPlatformFlagConstDisallowed'), [['FROM --platform flag should not use constant value "linux/amd64"', 1]]);
  t.deepEqual(only('FROM --platform=linux/amd64 alpine AS build-amd64\n', 'FromPlatformFlagConstDisallowed'), []);
  t.deepEqual(only('FROM --platform=$BUILDPLATFORM alpine AS build\n', 'FromPlatformFlagConstDisallowed'), []);
  // The platform is compared as BuildKit parses it, normalised: aarch64 is arm64.
  t.deepEqual(only('FROM --platform=linux/aarch64 alpine AS build-arm64\n', 'FromPlatformFlagConstDisallowed'), []);
  t.deepEqual(only('FROM --platform=Linux/ARM/v7 alpine AS build\n', 'FromPlatformFlagConstDisallowed'), [['FROM --platform flag should not use constant value "Linux/ARM/v7"', 1]]);
  // An invalid one is not the check's to report: the plan's error is.
  const e = t.throws(() => run('FROM --platform=linux/nope alpine AS build\n'));
  t.true(e instanceof DockerfileError);
  t.regex(e!.message, /unknown architecture "nope"/);
});

test('RedundantTargetPlatform', (t) => {
  t.deepEqual(only('FROM --platform=$TARGETPLATFORM alpine\n', 'RedundantTargetPlatform'), [['Setting platform to predefined $TARGETPLATFORM in FROM is redundant as this is the default behavior', 1]]);
  t.deepEqual(only('FROM --platform=${TARGETPLATFORM} alpine\n', 'RedundantTargetPlatform').length, 1);
  t.deepEqual(only('FROM --platform=$BUILDPLATFORM alpine\nFROM --platform=${TARGETOS}/${TARGETARCH} alpine\n', 'RedundantTargetPlatform'), []);
});

test('CopyIgnoredFile is experimental and needs the .dockerignore patterns', (t) => {
  const src = '# check=experimental=CopyIgnoredFile\nFROM alpine AS b\nCOPY ./node_modules/x secret.txt app/ /dst/\nADD keep.txt /dst/\nADD https://example.com/x.txt /dst/\nFROM alpine\nCOPY --from=b /node_modules /x\n';
  const dockerignore = 'node_modules\n*.txt\n!keep.txt\n';
  t.deepEqual(only(src, 'CopyIgnoredFile', { dockerignore }), [
    ['Attempting to Copy file "./node_modules/x" that is excluded by .dockerignore', 3],
    ['Attempting to Copy file "secret.txt" that is excluded by .dockerignore', 3],
  ]);
  t.deepEqual(only(src.replace(/^# check.*\n/, ''), 'CopyIgnoredFile', { dockerignore }), []);
  t.deepEqual(only('# check=experimental=all\nFROM alpine\nCOPY app /app\n', 'CopyIgnoredFile', { dockerignore }), []);
  // The context walk's matcher: a `**` pattern excludes a source below any matching parent, and a source is cleaned first.
  t.deepEqual(only('# check=experimental=CopyIgnoredFile\nFROM alpine\nCOPY a/b/cache/x /build/ /\n', 'CopyIgnoredFile', { dockerignore: '**/cache\nbuild\n' }), [
    ['Attempting to Copy file "a/b/cache/x" that is excluded by .dockerignore', 3],
    ['Attempting to Copy file "/build/" that is excluded by .dockerignore', 3],
  ]);
});

test('ExposeProtoCasing and ExposeInvalidFormat', (t) => {
  t.deepEqual(found('FROM alpine\nEXPOSE 80/TCP 127.0.0.1:8080:80 5000:5000/udp 9000/tcp\n'), [
    ['ExposeProtoCasing', "Defined protocol '80/TCP' in EXPOSE instruction should be lowercase", 2],
    ['ExposeInvalidFormat', "EXPOSE instruction should not define an IP address or host-port mapping, found '127.0.0.1:8080:80'", 2],
    ['ExposeInvalidFormat', "EXPOSE instruction should not define an IP address or host-port mapping, found '5000:5000/udp'", 2],
  ]);
  t.deepEqual(found('FROM alpine\nARG P=80\nEXPOSE $P/tcp 443\n'), []);
});

test('a build only checks the stages its target needs; --check without target checks all', async (t) => {
  const src = 'FROM alpine AS unused\nCMD a\nFROM alpine AS dep\nCMD b\nFROM alpine AS base\nCMD c\nFROM base\nCOPY --from=dep /x /x\nRUN --mount=type=bind,from=dep2,target=/m true\nCMD ["d"]\n';
  t.deepEqual(await buildWarnings(src, 'JSONArgsRecommended'), [4, 6]);
  t.deepEqual(await buildWarnings(src, 'JSONArgsRecommended', { target: 'unused' }), [2]);
  t.deepEqual(only(src, 'JSONArgsRecommended').map(([, l]) => l), [2, 4, 6]);
  t.deepEqual(only(src, 'JSONArgsRecommended', { target: 'dep' }).map(([, l]) => l), [4]);
  // file-level rules still see every stage
  t.deepEqual(await buildWarnings('FROM alpine AS Unused\nFROM alpine\n', 'StageNameCasing'), [1]);
});

test('parseCheckDirective', (t) => {
  t.deepEqual(parseCheckDirective(undefined), { skip: new Set(), error: false, experimental: new Set() });
  t.deepEqual(parseCheckDirective('skip=JSONArgsRecommended, StageNameCasing;error=true'), {
    skip: new Set(['JSONArgsRecommended', 'StageNameCasing']),
    error: true,
    experimental: new Set(),
  });
  t.is(parseCheckDirective('skip=all').skip, 'all');
  t.is(parseCheckDirective(' error = 1 ').error, true);
  t.is(parseCheckDirective('experimental=all').experimental, 'all');
  const e1 = t.throws(() => parseCheckDirective('skip'), { instanceOf: DockerfileError });
  t.is(e1.message, 'failed to parse check options: invalid check option "skip"');
  const e2 = t.throws(() => parseCheckDirective('warn=true'), { instanceOf: DockerfileError });
  t.is(e2.message, 'failed to parse check options: invalid check option "warn"');
  t.throws(() => parseCheckDirective('error=maybe'), { instanceOf: DockerfileError, message: /"maybe" is not a boolean/ });
});

test('a malformed # check directive is a user error pointing at its line', (t) => {
  const src = '# syntax=docker/dockerfile:1\n# check=skip=A;oops\nFROM alpine\n';
  const e = t.throws(() => run(src), { instanceOf: DockerfileError });
  t.deepEqual(e.location, { file: 'Dockerfile', startLine: 2, endLine: 2 });
  t.is(e.code, 'TSB_DOCKERFILE_SYNTAX');
  t.is(e.kind, 'user');
  t.truthy(e.hint);
  // the build arg's mistakes are the command line's
  t.is(t.throws<TsbuildError>(() => run('FROM alpine\n', { buildArgs: new Map([['BUILDKIT_DOCKERFILE_CHECK', 'oops']]) }))?.code, 'TSB_USAGE');
});

test('check=skip and skip=all drop warnings; error=true makes them a violation', (t) => {
  const body = 'FROM alpine as Build\nCMD x\n';
  t.deepEqual(found(`# check=skip=FromAsCasing,JSONArgsRecommended\n${body}`).map(([r]) => r), ['StageNameCasing']);
  const all = run(`# check=skip=all\n${body}`);
  t.deepEqual(all.warnings, []);
  t.is(lintViolation(all), undefined);
  const strict = run(`# check=error=true\n${body}`);
  t.is(strict.warnings.length, 3);
  t.is(lintViolation(strict), 'lint violation found for rules: FromAsCasing, JSONArgsRecommended, StageNameCasing');
  t.is(lintViolation(run(body)), undefined);
  t.is(lintViolation(run('# check=error=true\nFROM alpine\n')), undefined);
});

test('the BUILDKIT_DOCKERFILE_CHECK build arg overrides the directive', (t) => {
  const src = '# check=skip=all\nFROM alpine\nCMD x\n';
  const r = run(src, { buildArgs: new Map([['BUILDKIT_DOCKERFILE_CHECK', 'error=true']]) });
  t.deepEqual(r.warnings.map((w) => w.rule), ['JSONArgsRecommended']);
  t.true(r.checkConfig.error);
});

test('isValidImageReference', (t) => {
  for (const ok of ['alpine', 'alpine:3.20', 'docker.io/library/alpine:latest', 'localhost:5000/a/b:tag', `a@sha256:${'a'.repeat(64)}`]) t.true(isValidImageReference(ok), ok);
  for (const bad of ['', 'busybox:', 'Alpine', ':tag', 'a b', 'a:-x', 'a'.repeat(64).replace(/a/g, 'f')]) t.false(isValidImageReference(bad), bad);
});
