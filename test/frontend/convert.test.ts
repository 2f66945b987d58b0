import test from 'ava';
import { convertDockerfile, type FrontendInput } from '../../frontend/convert.js';
import { DockerfileError } from '../../frontend/errors.js';
import type { Vertex } from '../../builder/graph.js';

const base: Omit<FrontendInput, 'dockerfile'> = {
  filename: 'Dockerfile',
  buildArgs: new Map(),
  platform: { os: 'linux', architecture: 'amd64' },
  resolveImage: async (ref) => {
    if (ref !== 'img') throw Object.assign(new Error(`no ${ref}`), { hint: 'h' });
    return {
      source: { type: 'image', ref, origin: { kind: 'store' }, manifestDigest: `sha256:${'a'.repeat(64)}`, platform: { os: 'linux', architecture: 'amd64' } },
      config: { architecture: 'amd64', os: 'linux', config: { Env: ['PATH=/bin', 'A=1'], Cmd: ['sh'] }, rootfs: { type: 'layers', diff_ids: [] } },
    };
  },
};

const conv = (dockerfile: string, extra: Partial<FrontendInput> = {}) => convertDockerfile({ ...base, dockerfile, ...extra });

function chain(v: Vertex): string[] {
  const out: string[] = [];
  for (let cur: Vertex | undefined = v; cur; cur = cur.inputs[0]) out.unshift(cur.op.kind === 'source' ? `source:${cur.op.source.type}` : cur.name);
  return out;
}

test('a stage becomes a chain of vertices; metadata instructions add none', async (t) => {
  const { definition } = await conv('FROM img\nENV B=2\nWORKDIR app\nRUN make\nCOPY . .\nUSER x\nCMD ["run"]\n');
  t.deepEqual(chain(definition.root), ['source:image', '[2/4] WORKDIR /app', '[3/4] RUN make', '[4/4] COPY . .']);
  t.deepEqual(definition.config.config.Env, ['PATH=/bin', 'A=1', 'B=2']);
  t.deepEqual(definition.config.config.Cmd, ['run']);
  t.is(definition.config.config.User, 'x');
  const run = definition.root.inputs[0]!;
  t.like(run.op, { kind: 'exec', args: ['/bin/sh', '-c', 'make'], cwd: '/app', user: '' });
});

test('ENV values expand with values from before the instruction', async (t) => {
  const { definition } = await conv('FROM img\nENV abc=hi\nENV abc=bye def=$abc\n');
  t.true(definition.config.config.Env!.includes('abc=bye'));
  t.true(definition.config.config.Env!.includes('def=hi'));
});

test('ENTRYPOINT resets an inherited CMD; shell forms wrap in the SHELL', async (t) => {
  const { definition } = await conv('FROM img\nSHELL ["/bin/bash", "-c"]\nENTRYPOINT exec server\n');
  t.deepEqual(definition.config.config.Entrypoint, ['/bin/bash', '-c', 'exec server']);
  t.is(definition.config.config.Cmd, null);
});

test('global ARGs reach FROM; a stage sees them only when redeclared', async (t) => {
  const { definition } = await conv('ARG IMG=img\nARG V=1\nFROM $IMG\nRUN echo $V\nARG V\nRUN echo $V\n');
  const [first, second] = [definition.root.inputs[0]!, definition.root];
  t.false((first.op as { env: string[] }).env.some((e) => e.startsWith('V=')));
  t.true((second.op as { env: string[] }).env.includes('V=1'));
});

test('unused stages are not in the graph; COPY --from adds the stage as an input', async (t) => {
  const { definition } = await conv('FROM img AS a\nRUN a\nFROM img AS unused\nRUN u\nFROM img\nCOPY --from=a /x /y\n');
  const names: string[] = [];
  const walk = (v: Vertex): void => {
    names.push(v.name);
    v.inputs.forEach(walk);
  };
  walk(definition.root);
  t.true(names.some((n) => n.includes('[a 2/2] RUN a')));
  t.false(names.some((n) => n.includes('RUN u')));
});

test('errors carry the location, a code and a hint', async (t) => {
  const e = await t.throwsAsync(conv('FROM img\nEXPOSE eighty\n'), { instanceOf: DockerfileError });
  t.deepEqual(e?.location, { file: 'Dockerfile', startLine: 2, endLine: 2 });
  t.is(e?.code, 'TSB_DOCKERFILE_INVALID');
  t.truthy(e?.hint);
  // As BuildKit: a stage can only use stages defined above it (which also rules out cycles).
  await t.throwsAsync(conv('FROM img AS a\nCOPY --from=b /x /x\nFROM img AS b\nRUN x\n', { target: 'a' }), { message: /cannot copy from stage "b", it needs to be defined before current stage "a"/ });
});

test('EXPOSE ranges and protocols; LABEL both forms', async (t) => {
  const { definition, warnings } = await conv('FROM img\nEXPOSE 80 8000-8001/udp 53/TCP\nLABEL a=1 "b c"="d e"\nLABEL legacy value here\n');
  t.deepEqual(Object.keys(definition.config.config.ExposedPorts!).sort(), ['53/tcp', '80/tcp', '8000/udp', '8001/udp']);
  t.deepEqual(definition.config.config.Labels, { a: '1', 'b c': 'd e', legacy: 'value here' });
  t.true(warnings.some((w) => w.rule === 'LegacyKeyValueFormat'));
});

test('# syntax= is accepted and reported as ignored', async (t) => {
  const { warnings } = await conv('# syntax=docker/dockerfile:1\nFROM img\n');
  t.true(warnings.some((w) => w.rule === 'SyntaxDirectiveIgnored' && /docker\/dockerfile:1/.test(w.message)));
});
