// `tsbuild prune` and `tsbuild du`: the store's space, and giving the build cache's back.
import { diskUsage, prune } from '../builder/prune.js';
import { ContentStore } from '../snapshotter/content.js';
import { ImageStore } from '../snapshotter/images.js';
import { Snapshots } from '../snapshotter/snapshots.js';
import { Store } from '../snapshotter/store.js';

function human(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(1)}${units[i]}`;
}

async function withStore<T>(root: string | undefined, fn: (s: Store, c: ContentStore, i: ImageStore, sn: Snapshots) => Promise<T>): Promise<T> {
  const store = Store.open(root);
  try {
    const content = new ContentStore(store);
    return await fn(store, content, new ImageStore(store), new Snapshots(store, content));
  } finally {
    await store.close();
  }
}

export function pruneCommand(root: string | undefined, all: boolean): Promise<string> {
  return withStore(root, async (store, content, images, snapshots) => `Total reclaimed space: ${human(await prune(store, content, images, snapshots, { all }))}`);
}

export function duCommand(root: string | undefined): Promise<string> {
  return withStore(root, async (store, content, images, snapshots) => {
    const r = await diskUsage(store, content, images, snapshots);
    const rows: Array<[string, number]> = [
      ['images (blobs)', r.images],
      ['images (unpacked layers)', r.snapshots],
      ['build cache (reclaimable)', r.buildCache],
      ['cache mounts', r.cacheMounts],
      ['total', r.images + r.snapshots + r.buildCache + r.cacheMounts],
    ];
    return rows.map(([k, v]) => `${k.padEnd(28)}${human(v)}`).join('\n');
  });
}
