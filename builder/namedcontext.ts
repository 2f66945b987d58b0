// Named contexts (--build-context NAME=…) as the frontend looks them up: by the name as given, or,
// for an image name, by its familiar form without ":latest", as BuildKit's dockerui normalizes the
// FROM or --from name (so FROM docker.io/library/alpine:latest finds --build-context alpine=…).
import type { NamedContext } from './frontend.js';
import { familiarName, normalizeReference } from '../snapshotter/reference.js';

function normalized(name: string): string | undefined {
  try {
    return familiarName(normalizeReference(name)).replace(/:latest$/, '');
  } catch {
    return undefined; // not an image reference (e.g. a stage name with characters a reference can't have)
  }
}

export function namedContextLookup(contexts: ReadonlyMap<string, NamedContext>): ((name: string) => NamedContext | undefined) | undefined {
  if (contexts.size === 0) return undefined;
  const byNormal = new Map<string, NamedContext>();
  for (const [key, c] of contexts) {
    const n = normalized(key);
    if (n !== undefined && !byNormal.has(n)) byNormal.set(n, c);
  }
  return (name) => {
    const exact = contexts.get(name);
    if (exact) return exact;
    const n = normalized(name);
    return n === undefined ? undefined : byNormal.get(n);
  };
}
