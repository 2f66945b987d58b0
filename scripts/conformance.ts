// Conformance of the frontend against BuildKit's own test data, read in place from the oracle
// directory (third-party data: never copied into this repository).
//   npx tsx scripts/conformance.ts [ORACLE_DIR]   (default ../shared/oracle)
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expandWord, ExpansionError } from '../frontend/shell.js';

export interface CaseResult {
  suite: string;
  input: string;
  expected: string;
  actual: string;
  ok: boolean;
}

function run(input: string, env: Map<string, string>): string {
  try {
    return expandWord(input, env).value;
  } catch (e) {
    if (e instanceof ExpansionError) return 'error';
    throw e;
  }
}

export function shellEnvVarCases(oracle: string): CaseResult[] {
  const env = new Map([['PWD', '/home'], ['SHELL', 'bash'], ['KOREAN', '한국어'], ['NULL', '']]);
  const out: CaseResult[] = [];
  for (const line of readFileSync(path.join(oracle, 'buildkit-shell', 'envVarTest'), 'utf8').split('\n')) {
    if (!line.trim() || line.startsWith('#')) continue;
    const parts = line.split('|');
    if (parts.length !== 3) continue;
    const [platform, input, expected] = parts.map((p) => p.trim()) as [string, string, string];
    if (platform === 'W') continue;
    const actual = run(input, env);
    out.push({ suite: 'envVarTest', input, expected, actual, ok: actual === expected });
  }
  return out;
}

interface MatchCase {
  input: string;
  envs: Record<string, string>;
  expected?: string;
  error?: boolean;
}

export function shellMatchCases(oracle: string): CaseResult[] {
  const data = JSON.parse(readFileSync(path.join(oracle, 'buildkit-shell', 'processWithMatches.json'), 'utf8')) as { cases: MatchCase[] };
  return data.cases.map((c) => {
    const actual = run(c.input, new Map(Object.entries(c.envs)));
    const expected = c.error ? 'error' : c.expected ?? '';
    return { suite: 'processWithMatches', input: c.input, expected, actual, ok: actual === expected };
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const oracle = path.resolve(process.argv[2] ?? path.join(import.meta.dirname, '..', '..', 'shared', 'oracle'));
  const results = [...shellEnvVarCases(oracle), ...shellMatchCases(oracle)];
  for (const r of results.filter((x) => !x.ok)) console.log(`FAIL ${r.suite}: ${JSON.stringify(r.input)} → ${JSON.stringify(r.actual)}, want ${JSON.stringify(r.expected)}`);
  const bySuite = new Map<string, [number, number]>();
  for (const r of results) {
    const [p, n] = bySuite.get(r.suite) ?? [0, 0];
    bySuite.set(r.suite, [p + (r.ok ? 1 : 0), n + 1]);
  }
  for (const [s, [p, n]] of bySuite) console.log(`${s}: ${p}/${n}`);
}
