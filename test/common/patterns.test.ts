import test from 'ava';
import { parseDockerignore } from '../../common/dockerignore.js';
import { PatternMatcher } from '../../common/patterns.js';

const m = (content: string) => new PatternMatcher(parseDockerignore(content));

test('patterns are anchored at the context root; * stays in one component', (t) => {
  const p = m('*.md\n');
  t.true(p.matches('README.md'));
  t.false(p.matches('docs/x.md'));
});

test('** spans directories; a matched directory excludes everything below', (t) => {
  const p = m('**/*.log\nbuild/\n/tmp\n');
  t.true(p.matches('a.log'));
  t.true(p.matches('x/y/z.log'));
  t.true(p.matches('build/out/bin'));
  t.true(p.matches('tmp/file'));
  t.false(p.matches('src/app.js'));
});

test('the last matching pattern wins; ! re-includes', (t) => {
  const p = m('*.log\n!keep.log\n');
  t.true(p.matches('drop.log'));
  t.false(p.matches('keep.log'));
  const q = m('!keep.log\n*.log\n');
  t.true(q.matches('keep.log'));
});

test('an excluded dir is walked when a later ! pattern may re-include below it', (t) => {
  const p = m('vendor\n!vendor/keep\n');
  t.true(p.matches('vendor/drop'));
  t.false(p.matches('vendor/keep'));
  t.true(p.mayReincludeUnder('vendor'));
  t.false(p.mayReincludeUnder('other'));
});

test('a pattern matching any parent excludes below it, ** parents too (as moby MatchesOrParentMatches)', (t) => {
  const p = new PatternMatcher(['docs', 'build/*', '!build/keep', '**/cache']);
  t.deepEqual(['docs', 'docs/a/b.md', 'build/out', 'build/keep', 'src/main.go', 'a/b/cache/x'].map((f) => p.matches(f)), [true, true, true, false, false, true]);
});
