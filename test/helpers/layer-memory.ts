// A child process for the layer memory test: streams DIR as a layer (diffUpperDir → readTar, every
// body drained) and prints what it saw and the most Buffer memory it held at once. Run it with
// `node --expose-gc --import=tsx`: each sample collects garbage first, so it measures what is
// retained, not what awaits collection.
import { diffUpperDir } from '../../snapshotter/diff.js';
import { readTar } from '../../snapshotter/tarread.js';

const gc = globalThis.gc;
if (!gc) throw new Error('run with --expose-gc');
const dir = process.argv[2]!;
const SAMPLE_EVERY = 8 << 20;

/** `external` counts every Buffer and ArrayBuffer (arrayBuffers is a part of it). */
function retained(): { external: number; rss: number } {
  gc!();
  const m = process.memoryUsage();
  return { external: m.external, rss: m.rss };
}

const start = retained();
let peakExternal = 0;
let peakRss = 0;
let entries = 0;
let bytes = 0;
let next = SAMPLE_EVERY;
const sample = (): void => {
  const now = retained();
  peakExternal = Math.max(peakExternal, now.external - start.external);
  peakRss = Math.max(peakRss, now.rss - start.rss);
};
for await (const { body } of readTar(diffUpperDir(dir))) {
  entries++;
  for await (const chunk of body) {
    bytes += (chunk as Buffer).length;
    if (bytes >= next) {
      sample();
      next += SAMPLE_EVERY;
    }
  }
}
sample();
process.stdout.write(JSON.stringify({ entries, bytes, peakExternal, peakRss }));
