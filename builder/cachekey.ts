// Cache keys: sha256 of a canonical encoding of a vertex's definition and its inputs' keys.
// Canonical = JSON with object keys sorted, so field order never changes a key.
import { createHash } from 'node:crypto';
import type { Digest } from '../common/oci.js';

/** Bump when the meaning of a cached result changes, so old records are not reused. */
const KEY_VERSION = 'tsbuild-cache-v1';

function canonical(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  const entries = Object.entries(v as Record<string, unknown>)
    .filter(([, x]) => x !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonical(x)}`).join(',')}}`;
}

export function cacheKey(definition: unknown, inputKeys: readonly string[], extra?: Record<string, string>): Digest {
  const h = createHash('sha256');
  h.update(canonical({ v: KEY_VERSION, definition, inputs: inputKeys, extra }));
  return `sha256:${h.digest('hex')}`;
}
