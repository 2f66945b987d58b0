// Frontend speed: parse + graph + checks (one walk) of a 1,000-instruction Dockerfile (issue: < 50 ms).
//   npx tsx bench/frontend.ts [INSTRUCTIONS]
import { convertDockerfile } from '../frontend/convert.js';

const n = Number(process.argv[2] ?? 1000);

/** A realistic mix: stages, ARG/ENV expansion, RUN (with continuations), COPY, WORKDIR, metadata. */
function dockerfile(count: number): string {
  const lines = ['# syntax-free benchmark Dockerfile', 'ARG BASE=img', 'ARG VERSION=1.2.3'];
  let i = 0;
  let stage = 0;
  while (i < count) {
    lines.push(`FROM \${BASE} AS s${stage}`);
    i++;
    for (let k = 0; k < 49 && i < count; k++, i++) {
      switch (k % 7) {
        case 0: lines.push(`ENV VAR_${i}=value-\${VERSION:-none}-${i} OTHER_${i}="quoted ${i}"`); break;
        case 1: lines.push(`RUN echo step ${i} \\\n    && mkdir -p /opt/s${stage}/d${i} \\\n    && echo done > /opt/s${stage}/d${i}/f`); break;
        case 2: lines.push(`COPY src/file${i}.txt /app/s${stage}/`); break;
        case 3: lines.push(`WORKDIR /work/s${stage}/w${i}`); break;
        case 4: lines.push(`LABEL org.example.step${i}="\${VAR_${i - 4}}" version=\${VERSION}`); break;
        case 5: lines.push(stage > 0 ? `COPY --from=s${stage - 1} /opt /prev${i}` : `ARG A${i}=${i}`); break;
        default: lines.push(`EXPOSE ${8000 + (i % 1000)}/tcp`); break;
      }
    }
    stage++;
  }
  lines.push('CMD ["app"]');
  return `${lines.join('\n')}\n`;
}

const text = dockerfile(n);
if (process.env.DUMP) (await import('node:fs')).writeFileSync(process.env.DUMP, text);
const input = {
  dockerfile: text,
  filename: 'Dockerfile',
  buildArgs: new Map<string, string>(),
  platform: { os: 'linux', architecture: 'amd64' },
  resolveImage: async (ref: string) => ({
    source: { type: 'image' as const, ref, origin: { kind: 'store' as const }, manifestDigest: `sha256:${'a'.repeat(64)}` as const, platform: { os: 'linux', architecture: 'amd64' } },
    config: { architecture: 'amd64', os: 'linux', config: { Env: ['PATH=/bin'] }, rootfs: { type: 'layers' as const, diff_ids: [] } },
  }),
};

// Where a cold run goes (a CLI invocation is always cold).
if (process.env.SPLIT) {
  const { parse } = await import('../frontend/parser.js');
  const s = performance.now();
  parse(text);
  console.log(`cold parse ${(performance.now() - s).toFixed(1)} ms`);
}

const t0 = performance.now();
await convertDockerfile(input);
const first = performance.now() - t0;
const runs: number[] = [];
for (let r = 0; r < 20; r++) {
  const s = performance.now();
  await convertDockerfile(input);
  runs.push(performance.now() - s);
}
runs.sort((a, b) => a - b);
console.log(`frontend: ${n} instructions, ${text.split('\n').length} lines: first run ${first.toFixed(1)} ms, median of 20 ${runs[10]!.toFixed(1)} ms (limit 50 ms)`);
