// BuildKit's shell-lexer test data, read in place from ../shared/oracle.
import test from 'ava';
import path from 'node:path';
import { shellEnvVarCases, shellMatchCases } from '../../scripts/conformance.js';
import { sharedDir } from '../helpers/cli.js';

const oracle = path.join(sharedDir, 'oracle');

for (const [suite, cases] of [['envVarTest', shellEnvVarCases], ['processWithMatches', shellMatchCases]] as const) {
  test(`shell lexer matches BuildKit's ${suite}`, (t) => {
    const results = cases(oracle);
    t.true(results.length > 40, 'the oracle data was read');
    t.deepEqual(results.filter((r) => !r.ok).map((r) => `${r.input} → ${r.actual} (want ${r.expected})`), []);
  });
}
