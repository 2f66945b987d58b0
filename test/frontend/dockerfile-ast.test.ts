// Cross-check of the line parser against dockerfile-ast, an independent Dockerfile parser (the one
// behind VS Code's Dockerfile support): for every corpus Dockerfile, both must see the same
// instructions, with the same keywords, line ranges (1-based, heredoc bodies included) and flags.
//
// Where they are known to differ, the check is not weakened; the difference is pinned below:
// - dockerfile-ast is an editor's parser and never fails. The corpus files our parser rejects (as
//   BuildKit does: an empty file, an unterminated heredoc, a directive given twice) are asserted to
//   be rejected, instead of compared.
// - rcjsuen/dockerfile-ast#120: a space between `<<` and the delimiter (`cat << 'EOF'`) is not a
//   heredoc to dockerfile-ast, so the body lines become instructions; BuildKit and our parser take
//   it as a heredoc. No corpus file uses that form.
import test from 'ava';
import { DockerfileParser } from 'dockerfile-ast';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { DockerfileError } from '../../frontend/errors.js';
import { parse } from '../../frontend/parser.js';
import { repoRoot } from '../helpers/cli.js';

/** [KEYWORD, startLine, endLine, flags as written] per instruction. */
type Shape = Array<[string, number, number, string[]]>;

function ours(text: string): Shape {
  return parse(text).nodes.map((n) => [n.instruction, n.startLine, n.endLine, n.flags]);
}

function theirs(text: string): Shape {
  return DockerfileParser.parse(text)
    .getInstructions()
    .map((i) => {
      const r = i.getRange();
      // Only instructions that can take flags have getFlags (ModifiableInstruction).
      const flags = 'getFlags' in i ? (i as { getFlags(): Array<{ getName(): string; getValue(): string | null }> }).getFlags() : [];
      return [i.getKeyword(), r.start.line + 1, r.end.line + 1, flags.map((f) => `--${f.getName()}${f.getValue() === null ? '' : `=${f.getValue()}`}`)];
    });
}

const corpus = path.join(repoRoot, 'test', 'corpus');
const rejected = new Set(['err-empty-dockerfile', 'err-heredoc-unterminated', 'parser-escape-twice-error']);
const cases = readdirSync(corpus).filter((d) => existsSync(path.join(corpus, d, 'Dockerfile'))).sort();

test('our parser and dockerfile-ast agree on every corpus Dockerfile', (t) => {
  t.true(cases.length > 300);
  for (const name of cases) {
    const text = readFileSync(path.join(corpus, name, 'Dockerfile'), 'utf8');
    if (rejected.has(name)) t.throws(() => parse(text), { instanceOf: DockerfileError }, name);
    else t.deepEqual(ours(text), theirs(text), name);
  }
});

test('known difference: a space before the heredoc delimiter (rcjsuen/dockerfile-ast#120)', (t) => {
  const text = "FROM a\nRUN cat << 'EOF'\nhello\nEOF\n";
  t.deepEqual(ours(text), [['FROM', 1, 1, []], ['RUN', 2, 4, []]]);
  t.deepEqual(theirs(text).map(([k]) => k), ['FROM', 'RUN', 'HELLO', 'EOF']);
});
