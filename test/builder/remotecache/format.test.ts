// The cache config's cacheMounts extension (docs/cache-format.md): written only when there are
// mounts, read back with their layers, checked, and sorted so the same mounts give the same bytes.
import test from 'ava';
import { MediaType, sha256, type Digest } from '../../../common/oci.js';
import { cacheManifest, CacheFormatError, encodeCache, parseCacheConfig, type CacheMountLayer, type ExportRecord } from '../../../builder/remotecache/format.js';

const digest = (s: string): Digest => sha256(Buffer.from(s));
const layer = (s: string) => ({ blob: { mediaType: MediaType.ociLayerGzip, digest: digest(`blob ${s}`), size: s.length }, diffID: digest(`tar ${s}`) });
const record: ExportRecord = { key: digest('step'), chain: [layer('base'), layer('run')], addedLayer: true, created: '2026-12-01T00:00:00Z' };
const mount = (id: string, l = layer(id)): CacheMountLayer => ({ id, sharing: 'shared', uid: 0, gid: 0, mode: 0o755, layer: l });

function roundTrip(records: ExportRecord[], mounts: CacheMountLayer[]) {
  const { config, layers } = encodeCache(records, mounts);
  const manifest = cacheManifest({ mediaType: 'application/vnd.tsbuild.cache.config.v1+json', digest: digest('config'), size: 1 }, layers);
  return { config, parsed: parseCacheConfig(Buffer.from(JSON.stringify(config)), manifest, 'test'), manifest };
}

test('without mounts the config has no cacheMounts field (the bytes of a cache from before mounts could travel)', (t) => {
  const { config, parsed } = roundTrip([record], []);
  t.false('cacheMounts' in config);
  t.deepEqual(parsed.mounts, []);
});

test('mounts round-trip with their layers, after the records\' layers, sorted by key, a shared blob once', (t) => {
  const shared = layer('same');
  const { config, parsed, manifest } = roundTrip([record], [mount('npm', shared), mount('apt'), { ...mount('npm', shared), uid: 1000 }]);
  t.deepEqual(config.cacheMounts!.map((m) => [m.id, m.uid, m.layer]), [['apt', 0, 2], ['npm', 0, 3], ['npm', 1000, 3]]);
  t.is(manifest.layers.length, 4);
  t.deepEqual(parsed.mounts.map((m) => [m.id, m.layer.diffID]), [['apt', layer('apt').diffID], ['npm', shared.diffID], ['npm', shared.diffID]]);
  t.deepEqual(parsed.records[0]!.layers.map((l) => l.diffID), record.chain.map((l) => l.diffID));
});

test('a malformed cacheMounts entry makes the cache unusable (a warning and a cold build), naming the entry', (t) => {
  const { config, manifest } = roundTrip([record], [mount('apt')]);
  for (const bad of [{ layer: 99 }, { sharing: 'sometimes' }, { id: '' }, { mode: -1 }]) {
    const doc = { ...config, cacheMounts: [{ ...config.cacheMounts![0]!, ...bad }] };
    const e = t.throws(() => parseCacheConfig(Buffer.from(JSON.stringify(doc)), manifest, 'cache x'), { instanceOf: CacheFormatError });
    t.regex(e.message, /cache x: cacheMounts\[0\] is malformed/);
  }
  t.throws(() => parseCacheConfig(Buffer.from(JSON.stringify({ ...config, cacheMounts: {} })), manifest, 'x'), { message: /cacheMounts must be a list/ });
});
