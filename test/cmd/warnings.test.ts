// The text forms of warnings and excerpts, as BuildKit and buildx print them.
import test from 'ava';
import { rules } from '../../frontend/checks/rules.js';
import { checkDockerfile } from '../../frontend/convert.js';
import { formatBuildWarnings, formatCheckOutput, formatSourceExcerpt, formatWarningShort } from '../../cmd/warnings.js';

const run = (src: string) => checkDockerfile({ dockerfile: src, filename: 'Dockerfile', buildArgs: new Map(), platform: { os: 'linux', architecture: 'amd64' } });

test('build output: short form and buildx’s summary', (t) => {
  const r = run('FROM alpine\nCMD x\nMAINTAINER me\n');
  t.is(formatWarningShort(r.warnings[1]!), 'JSONArgsRecommended: JSON arguments recommended for CMD to prevent unintended behavior related to OS signals (line 2)');
  t.is(
    formatBuildWarnings(r.warnings),
    '\n 2 warnings found (use --debug to expand):\n' +
      ' - MaintainerDeprecated: Maintainer instruction is deprecated in favor of using label (line 3)\n' +
      ' - JSONArgsRecommended: JSON arguments recommended for CMD to prevent unintended behavior related to OS signals (line 2)\n',
  );
  t.is(formatBuildWarnings([]), '');
  const debug = formatBuildWarnings(r.warnings.slice(1), { debug: true, source: 'FROM alpine\nCMD x\nMAINTAINER me\n' });
  t.true(debug.startsWith('\n 1 warning found:\n - JSONArgsRecommended'));
  t.true(debug.includes(`More info: ${rules.JSONArgsRecommended!.url}\n`));
});

test('--check output: summary, sorted warnings with source excerpts, exit code', (t) => {
  const src = 'FROM alpine\nCMD x\nMAINTAINER me\n';
  const { text, exitCode } = formatCheckOutput(run(src), src);
  t.is(exitCode, 1);
  t.is(
    text,
    'Check complete, 2 warnings have been found!\n' +
      '\nWARNING: JSONArgsRecommended - https://docs.docker.com/go/dockerfile/rule/json-args-recommended/\n' +
      'JSON arguments recommended for CMD to prevent unintended behavior related to OS signals\n' +
      'Dockerfile:2\n--------------------\n   1 |     FROM alpine\n   2 | >>> CMD x\n   3 |     MAINTAINER me\n   4 |     \n--------------------\n' +
      '\nWARNING: MaintainerDeprecated - https://docs.docker.com/go/dockerfile/rule/maintainer-deprecated/\n' +
      'Maintainer instruction is deprecated in favor of using label\n' +
      'Dockerfile:3\n--------------------\n   1 |     FROM alpine\n   2 |     CMD x\n   3 | >>> MAINTAINER me\n   4 |     \n--------------------\n',
  );
  t.deepEqual(formatCheckOutput(run('FROM alpine\n'), 'FROM alpine\n'), { text: 'Check complete, no warnings found.\n', exitCode: 0 });
});

test('source excerpt pads a multi-line range by one line each side', (t) => {
  const src = 'a\nb\nc\nd\ne\nf\n';
  t.is(formatSourceExcerpt(src, { file: 'F', startLine: 3, endLine: 4 }), 'F:3\n--------------------\n   2 |     b\n   3 | >>> c\n   4 | >>> d\n   5 |     e\n--------------------\n');
});
