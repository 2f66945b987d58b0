import test from 'ava';
import { parseDuration, parseSize } from '../../common/units.js';

test('sizes as docker and BuildKit write them: binary multiples, optional B, plain bytes', (t) => {
  t.is(parseSize('1000', 'x'), 1000);
  t.is(parseSize('1300k', 'x'), 1300 * 1024);
  t.is(parseSize('5GB', 'x'), 5 * 1024 ** 3);
  t.is(parseSize('1.5m', 'x'), 1.5 * 1024 ** 2);
  t.is(parseSize('2MiB', 'x'), 2 * 1024 ** 2);
  t.is(parseSize('0', 'x'), 0);
  const e = t.throws(() => parseSize('lots', '--keep-storage'));
  t.regex(e!.message, /invalid size "lots" for --keep-storage/);
  t.is((e as { code?: string }).code, 'TSB_USAGE');
  t.throws(() => parseSize('-5GB', 'x'));
});

test('durations as Go writes them', (t) => {
  t.is(parseDuration('24h', 'x'), 24 * 3_600_000);
  t.is(parseDuration('1h30m', 'x'), 90 * 60_000);
  t.is(parseDuration('90s', 'x'), 90_000);
  t.is(parseDuration('1.5h', 'x'), 5_400_000);
  t.is(parseDuration('0s', 'x'), 0);
  for (const bad of ['', '24', 'h', '1d', '1h 30m', '-1h']) t.throws(() => parseDuration(bad, '--filter until'), undefined, bad);
});
