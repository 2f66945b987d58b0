// The words for a cache-miss explanation (builder/missreason.ts finds the causes): one line per
// step in plain output and the TTY view, and the `text` of JSON's cacheMiss.
import type { ProgressEvent } from '../builder/engine.js';

type CacheMiss = NonNullable<Extract<ProgressEvent, { type: 'vertex-start' }>['cacheMiss']>;
type MissReason = CacheMiss['reasons'][number];

function list(items: readonly string[]): string {
  return items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`;
}

function short(digest: string): string {
  return digest.replace(/^sha256:/, '').slice(0, 12);
}

function reasonText(r: MissReason): string {
  switch (r.kind) {
    case 'no-cache':
      return '--no-cache';
    case 'new-step':
      return 'a step the earlier build did not have';
    case 'instruction':
      return 'the instruction changed';
    case 'settings':
      return `${list(r.fields)} changed`;
    case 'build-arg':
      return `build arg${r.names.length > 1 ? 's' : ''} ${list(r.names)} changed`;
    case 'env':
      return `ENV ${list(r.names)} changed`;
    case 'files':
      // A few paths by name; past that, the first one and a count.
      return r.count <= r.paths.length ? `${list(r.paths)} changed` : `${r.paths[0]} and ${r.count - 1} more changed`;
    case 'base-image':
      return `base image ${r.ref} changed${r.from ? ` (${short(r.from)} → ${short(r.to)})` : ''}`;
    case 'parent':
      return `parent step ${r.step} changed`;
    case 'source':
      return `${r.step} changed`;
    case 'no-result':
      return 'same inputs as the earlier build, whose result is gone (pruned) or was never made (failed)';
  }
}

/** E.g. `src/app.js and 3 more changed; build arg VERSION changed`. */
export function cacheMissText(m: CacheMiss): string {
  return m.reasons.map(reasonText).join('; ');
}
