// --build-context NAME=VALUE as buildx spells it: VALUE is a local directory, docker-image://REF (an
// image: the local store, else its registry) or oci-layout://DIR[:TAG|@sha256:…] (an OCI image layout).
import { statSync } from 'node:fs';
import path from 'node:path';
import { UsageError } from '../common/errors.js';
import type { NamedContext } from '../builder/engine.js';

const FORM = 'use --build-context NAME=DIR, NAME=docker-image://REF or NAME=oci-layout://DIR[@sha256:…], e.g. --build-context base=docker-image://alpine:3.20';

function parseOne(spec: string): [string, NamedContext] {
  const eq = spec.indexOf('=');
  const name = eq < 0 ? '' : spec.slice(0, eq);
  const value = eq < 0 ? '' : spec.slice(eq + 1);
  if (!name || !value) throw new UsageError(`--build-context "${spec}" needs NAME=VALUE`, FORM);
  if (value.startsWith('docker-image://')) {
    const ref = value.slice('docker-image://'.length);
    if (!ref) throw new UsageError(`--build-context "${spec}": docker-image:// needs an image reference`, FORM);
    return [name, { kind: 'image', ref }];
  }
  if (value.startsWith('oci-layout://')) {
    const rest = value.slice('oci-layout://'.length);
    // The directory is checked when the image is resolved (the resolver names what is wrong with it).
    if (!rest) throw new UsageError(`--build-context "${spec}": oci-layout:// needs a directory`, FORM);
    const at = rest.lastIndexOf('@');
    const colon = rest.lastIndexOf(':');
    const split = at > 0 ? at : colon > rest.lastIndexOf('/') ? colon : rest.length;
    return [name, { kind: 'image', ref: `oci-layout://${path.resolve(rest.slice(0, split))}${rest.slice(split)}` }];
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value) || value.startsWith('git@')) {
    throw new UsageError(`--build-context "${spec}": tsbuild takes directories, docker-image:// and oci-layout:// contexts only`, FORM);
  }
  let isDir = false;
  try {
    isDir = statSync(value).isDirectory();
  } catch {
    // reported below
  }
  if (!isDir) throw new UsageError(`--build-context "${spec}": ${value} is not a directory`, FORM);
  return [name, { kind: 'dir', name, dir: path.resolve(value) }];
}

/** Named contexts by name; naming one twice is an error, as it is ambiguous. */
export function parseBuildContexts(list: readonly string[] | undefined): Map<string, NamedContext> {
  const m = new Map<string, NamedContext>();
  for (const spec of list ?? []) {
    const [name, c] = parseOne(spec);
    if (m.has(name)) throw new UsageError(`--build-context ${name} is given twice`, 'name each context once');
    m.set(name, c);
  }
  return m;
}
