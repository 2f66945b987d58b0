import test from 'ava';
import { dockerignoreCandidates, parseDockerignore } from '../../common/dockerignore.js';

test('.dockerignore lines: comments, blank lines, BOM, leading slash and cleaning', (t) => {
  t.deepEqual(parseDockerignore('\uFEFF# c\n\n /a/b/../c/ \n!./d\n'), ['a/c', '!d']);
});

test('the Dockerfile\'s own ignore file comes before the context\'s', (t) => {
  t.deepEqual(dockerignoreCandidates('/src/app/build.Dockerfile', '/src/app'), ['/src/app/build.Dockerfile.dockerignore', '/src/app/.dockerignore']);
});
