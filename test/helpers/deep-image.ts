// An image of many layers, for the deep-chain test and `npm run stress:layers`: one COPY layer per
// file on busybox, then a RUN that has to mount the whole chain (past overlay's lower-dir limits).
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** Writes into `ctx` a context whose Dockerfile gives `layers` layers above busybox: layers - 1 COPYs and one RUN. */
export function deepContext(ctx: string, layers: number): string {
  mkdirSync(path.join(ctx, 'files'));
  const lines = ['FROM busybox'];
  for (let i = 0; i < layers - 1; i++) {
    writeFileSync(path.join(ctx, 'files', `f${i}`), `${i}\n`);
    lines.push(`COPY files/f${i} /layers/f${i}`);
  }
  // Reads a file of the bottom, middle and top layer and counts them all through the overlay mount.
  lines.push(`RUN cat /layers/f0 /layers/f${Math.floor((layers - 1) / 2)} /layers/f${layers - 2} > /sum && ls /layers | wc -l >> /sum`);
  writeFileSync(path.join(ctx, 'Dockerfile'), `${lines.join('\n')}\n`);
  return ctx;
}

/** What /sum holds in the image of deepContext(layers). */
export function deepSum(layers: number): string {
  return `0\n${Math.floor((layers - 1) / 2)}\n${layers - 2}\n${layers - 1}\n`;
}
