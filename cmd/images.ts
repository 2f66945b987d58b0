// `tsbuild images` and `du` as tables: the engine gives data, this gives columns and units.
import type { ImageSummary, SpaceReport } from '../builder/engine.js';

/** docker's sizes: 3 significant digits, decimal units. */
function humanSize(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return `${n < 10 && i > 0 ? n.toFixed(2) : n < 100 && i > 0 ? n.toFixed(1) : Math.round(n)}${units[i]}`;
}

/** docker's `du` style: one decimal, decimal units. */
function humanSpace(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(1)}${units[i]}`;
}

export function formatImages(images: readonly ImageSummary[]): string {
  const rows = [['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE']];
  for (const img of images) {
    const colon = img.name.lastIndexOf(':');
    rows.push([img.name.slice(0, colon), img.name.slice(colon + 1), img.configDigest.slice(7, 19), img.created ?? '', humanSize(img.size)]);
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
