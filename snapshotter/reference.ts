// Image references as docker understands them: `app:1` means `docker.io/library/app:1`.
import { TsbuildError } from '../common/errors.js';

export interface Reference {
  domain: string;      // docker.io, localhost:5000, ...
  path: string;        // library/app
  tag?: string;
  digest?: string;
}

export class InvalidReferenceError extends TsbuildError {
  constructor(readonly ref: string, why: string) {
    super('TSB_REFERENCE_INVALID', `invalid image reference "${ref}": ${why}`, { hint: 'references look like [registry/]name[:tag][@sha256:digest], lowercase' });
  }
}

const pathComponent = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const tagRe = /^[\w][\w.-]{0,127}$/;

export function parseReference(input: string): Reference {
  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!/^[a-z0-9]+:[a-f0-9]{32,}$/.test(digest)) throw new InvalidReferenceError(input, 'bad digest');
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!tagRe.test(tag)) throw new InvalidReferenceError(input, `bad tag "${tag}"`);
  }
  if (!rest) throw new InvalidReferenceError(input, 'empty name');
  let domain = 'docker.io';
  let path = rest;
  const slash = rest.indexOf('/');
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    if (first.includes('.') || first.includes(':') || first === 'localhost' || first !== first.toLowerCase()) {
      domain = first;
      path = rest.slice(slash + 1);
    }
  }
  if (domain === 'index.docker.io') domain = 'docker.io';
  if (domain === 'docker.io' && !path.includes('/')) path = `library/${path}`;
  for (const c of path.split('/')) {
    if (!pathComponent.test(c)) throw new InvalidReferenceError(input, `"${c}" must be lowercase letters, digits and separators`);
  }
  if (!tag && !digest) tag = 'latest';
  return { domain, path, tag, digest };
}

/** Fully qualified: docker.io/library/app:1 */
export function formatReference(r: Reference): string {
  return `${r.domain}/${r.path}${r.tag ? `:${r.tag}` : ''}${r.digest ? `@${r.digest}` : ''}`;
}

/** What users typed: app:1 for docker.io/library/app:1. */
export function familiarName(full: string): string {
  return full.replace(/^docker\.io\/library\//, '').replace(/^docker\.io\//, '');
}

export function normalizeReference(input: string): string {
  return formatReference(parseReference(input));
}
