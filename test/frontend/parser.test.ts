import test from 'ava';
import { parse, parseJSONForm, splitFlags, splitWords } from '../../frontend/parser.js';

test('continuations join lines; comments and blank lines inside them are dropped', (t) => {
  const r = parse('FROM a\nRUN echo a \\\n  # a comment\n\n  && echo b\nCMD x\n');
  t.deepEqual(r.nodes.map((n) => [n.instruction, n.rest, n.startLine, n.endLine]), [
    ['FROM', 'a', 1, 1],
    ['RUN', 'echo a   && echo b', 2, 5],
    ['CMD', 'x', 6, 6],
  ]);
  t.is(r.warnings[0]?.rule, 'NoEmptyContinuation');
});

test('escape directive switches the continuation character', (t) => {
  const r = parse('# escape=`\nFROM a\nRUN dir c:\\ `\n  && echo x\n');
  t.is(r.directives.escape, '`');
  t.is(r.nodes[1]!.rest, 'dir c:\\   && echo x');
});

test('directives only count at the top', (t) => {
  const r = parse('FROM a\n# escape=`\n');
  t.is(r.directives.escape, '\\');
  t.throws(() => parse('# escape=x\nFROM a\n'), { message: /invalid escape token/ });
});

test('instructions are case-insensitive', (t) => {
  const r = parse('from a\nrUn echo\n');
  t.deepEqual(r.nodes.map((n) => [n.instruction, n.keyword]), [['FROM', 'from'], ['RUN', 'rUn']]);
});

test('JSON form only for a JSON array of strings, whitespace kept', (t) => {
  t.deepEqual(parseJSONForm('["echo", "hi there", "\\u0041"]'), ['echo', 'hi there', 'A']);
  t.is(parseJSONForm('["echo", 1]'), undefined);
  t.is(parseJSONForm('["unterminated"'), undefined);
  t.is(parseJSONForm('echo [x]'), undefined);
});

test('flags are leading --words; -- ends them; quoted values keep spaces', (t) => {
  t.deepEqual(splitFlags('--from=build --chown="a b" src dest'), { flags: ['--from=build', '--chown="a b"'], rest: 'src dest' });
  t.deepEqual(splitFlags('-- --notaflag x'), { flags: [], rest: '--notaflag x' });
});

test('heredocs: body lines, <<- strips tabs, quoted delimiter turns expansion off', (t) => {
  const r = parse('FROM a\nRUN <<EOF\necho $A\nEOF\nCOPY <<-"END" /f\n\tline\n\tEND\n');
  t.deepEqual(r.nodes[1]!.heredocs, [{ name: 'EOF', content: 'echo $A\n', expand: true, chomp: false }]);
  t.deepEqual(r.nodes[2]!.heredocs, [{ name: 'END', content: 'line\n', expand: false, chomp: true }]);
  t.is(r.nodes[2]!.endLine, 7);
  t.throws(() => parse('FROM a\nRUN <<EOF\necho\n'), { message: /unterminated heredoc "EOF"/ });
});

test('splitWords keeps quotes and escapes in the words, splits on whitespace outside them', (t) => {
  t.deepEqual(splitWords('a=1  b="x y" c=\'p q\' d=\\ e', '\\'), ['a=1', 'b="x y"', "c='p q'", 'd=\\ e']);
  t.deepEqual(splitWords('k="say \\"hi\\"" \'\\\'', '\\'), ['k="say \\"hi\\""', "'\\'"]);
  t.deepEqual(splitWords('x="unterminated y', '\\'), ['x="unterminated y']);
  t.deepEqual(splitWords('p=c:\\dir q=`  r', '`'), ['p=c:\\dir', 'q=` ', 'r']);
  t.deepEqual(splitWords(' \t ', '\\'), []);
});
