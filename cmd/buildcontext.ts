// --build-context NAME=VALUE as buildx spells it: VALUE is a local directory, docker-image://REF (an
// image: the local store, else its registry), oci-layout://DIR[:TAG|@sha256:…] (an OCI image layout),
// a git URL (git@host:repo, git://, ssh://, http(s)://….git, each with #REF:SUBDIR) or another
// http(s) URL, a file the context then holds (as BuildKit's dockerui: it is not unpacked).
import { statSync } from 'node:fs';
import path from 'node:path';
import { UsageError } from '../common/errors.js';
import { isGitURL, remoteFileName, splitGitURL } from '../common/remoteurl.js';
import type { FilesContext, NamedContext } from '../builder/engine.js';

const FORM = 'use --build-context NAME=DIR, NAME=docker-image://REF, NAME=oci-layout://DIR[@sha256:…], NAME=https://host/repo.git#REF:SUBDIR (or git@host:repo.git) or NAME=https://host/file, e.g. --build-context base=docker-image://alpine:3.20';

/** A git or http(s) URL as a named context; undefined if `value` is no URL. */
function remoteContext(spec: string, name: string, value: string): FilesContext | undefined {
  const bad = (why: string): never => {
    throw new UsageError(`--build-context "${spec}": ${why}`, FORM);
  };
  if (isGitURL(value)) {
    const { remote, ref, subdir } = splitGitURL(value);
    if (value.startsWith('git@')) {
      if (!/^git@[^:/]+:[^/].*/.test(remote)) bad(`${remote} names no repository (git@HOST:PATH)`);
    } else if (!hostOf(remote)) bad(`${remote} is not a valid URL with a host`);
    // As BuildKit's named git contexts, the .git directory is kept.
    return { kind: 'remote', name, url: value, source: { type: 'git', remote, ...(ref ? { ref } : {}), ...(subdir ? { subdir } : {}), keepGitDir: true } };
  }
  if (/^https?:\/\//i.test(value)) {
    const filename = hostOf(value) ? remoteFileName(value) : undefined;
    if (!filename) bad(`${value} is not a valid URL with a host`);
    return { kind: 'remote', name, url: value, source: { type: 'http', url: value, filename: filename! } };
  }
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(value)?.[1];
  if (scheme) bad(`unsupported context source ${scheme}://`);
  return undefined;
}

function hostOf(url: string): string | undefined {
  try {
    return new URL(url).host || undefined;
  } catch {
    return undefined;
  }
}

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
  const remote = remoteContext(spec, name, value);
  if (remote) return [name, remote];
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
