// Hint files of the cache folder (cache-miss records, incremental COPY bases): small records a build
// may use and never needs, kept bounded in number.
import { readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';

/** Keeps at most `max` of the files in `dir` named `prefix…`: the least recently written go. */
export async function keepNewest(dir: string, prefix: string, max: number): Promise<void> {
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.startsWith(prefix));
  if (names.length <= max) return;
  const aged = await Promise.all(names.map(async (n) => ({ n, t: (await stat(path.join(dir, n)).catch(() => undefined))?.mtimeMs ?? 0 })));
  aged.sort((a, b) => a.t - b.t);
  for (const { n } of aged.slice(0, names.length - max)) await rm(path.join(dir, n), { force: true });
}
