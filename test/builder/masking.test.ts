import test from 'ava';
import { MASK, SecretMasker } from '../../builder/masking.js';

/** Feeds `chunks` through one stream filter and returns what came out. */
function through(m: SecretMasker, chunks: string[]): string {
  const s = m.stream();
  return chunks.map((c) => s.push(Buffer.from(c)).toString()).join('') + s.end().toString();
}

test('a secret is masked even when it is split across chunks, at any point', (t) => {
  const m = new SecretMasker(['hunter2-token']);
  const text = 'login with hunter2-token now; again: hunter2-token';
  for (let i = 1; i < text.length; i++) t.is(through(m, [text.slice(0, i), text.slice(i)]), `login with ${MASK} now; again: ${MASK}`);
  t.is(through(m, [...text]), `login with ${MASK} now; again: ${MASK}`);
});

test('multi-line secrets are masked line by line; short values and innocent output pass through', (t) => {
  const m = new SecretMasker(['-----BEGIN KEY-----\nAAAABBBBCCCC\n-----END KEY-----\n', 'abc']);
  t.is(through(m, ['key: AAAABBBBCCCC\n', 'abc is too short to mask\n']), `key: ${MASK}\nabc is too short to mask\n`);
  t.is(through(m, ['-----BEGIN', ' KEY-----\n']), `${MASK}\n`);
  t.is(through(new SecretMasker([]), ['anything']), 'anything');
  // A held-back prefix that turns out not to be a secret comes out unchanged.
  t.is(through(m, ['AAAABBBB', 'xyz']), 'AAAABBBBxyz');
});

test('multi-byte characters split across chunks survive', (t) => {
  const m = new SecretMasker(['sécret-valeur']);
  const bytes = Buffer.from('→ sécret-valeur ←');
  const s = m.stream();
  const out = Buffer.concat([...bytes].map((b) => s.push(Buffer.from([b]))).concat([s.end()])).toString();
  t.is(out, `→ ${MASK} ←`);
});
