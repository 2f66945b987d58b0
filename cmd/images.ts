// `tsbuild images` and `du` as tables: the engine gives data, this gives columns and units.
import type { ImageSummary, SpaceReport } from '../builder/engine.js';

/** `n` bytes in decimal units (kB = 1000 B), up to the last of `units`. */
function scaled(n: number, units: readonly string[]): [number, string, boolean] {
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return [n, units[i]!, i > 0];
}

/** docker's image sizes: 3 significant digits. */
function humanSize(bytes: number): string {
  const [n, unit, scaledUp] = scaled(bytes, ['B', 'kB', 'MB', 'GB']);
  return `${n < 10 && scaledUp ? n.toFixed(2) : n < 100 && scaledUp ? n.toFixed(1) : Math.round(n)}${unit}`;
}

/** docker's `du` style: one decimal. */
function humanSpace(bytes: number): string {
  const [n, unit, scaledUp] = scaled(bytes, ['B', 'kB', 'MB', 'GB', 'TB']);
  return `${scaledUp ? n.toFixed(1) : n}${unit}`;
}

export function formatImages(images: readonly ImageSummary[]): string {
  // The platforms column only when a multi-platform image is there.
  const multi = images.some((i) => i.platforms);
  const rows = [['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE', ...(multi ? ['PLATFORMS'] : [])]];
  for (const img of images) {
    const colon = img.name.lastIndexOf(':');
    rows.push([img.name.slice(0, colon), img.name.slice(colon + 1), img.configDigest.slice(7, 19), img.created ?? '', humanSize(img.size), ...(multi ? [img.platforms?.join(',') ?? ''] : [])]);
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c]!)).join('   ').trimEnd()).join('\n');
}

export function formatDiskUsage(r: SpaceReport): string {
  const rows: Array<[string, number]> = [
    ['images (blobs)', r.images],
    ['images (unpacked layers)', r.snapshots],
    ['build cache (reclaimable)', r.buildCache],
    ['cache mounts', r.cacheMounts],
    ['total', r.images + r.snapshots + r.buildCache + r.cacheMounts],
  ];
  return rows.map(([k, v]) => `${k.padEnd(28)}${humanSpace(v)}`).join('\n');
}

export function formatReclaimed(bytes: number): string {
  return `Total reclaimed space: ${humanSpace(bytes)}`;
}
