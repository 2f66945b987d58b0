// `tsbuild pull | push | tag | login | logout`, and the registry side of `build --push`.
import { ImageResolver } from '../builder/resolver.js';
import { step, type ProgressSink } from '../builder/progress.js';
import { ContentStore } from '../snapshotter/content.js';
import { ImageStore } from '../snapshotter/images.js';
import type { Descriptor, Digest } from '../common/oci.js';
import { formatReference, InvalidReferenceError, normalizeReference, parseReference, type Reference } from '../snapshotter/reference.js';
import { CredentialStore, type Credentials } from '../snapshotter/registry/credentials.js';
import type { ManifestFormat } from '../snapshotter/registry/format.js';
import { Registries } from '../snapshotter/registry/registries.js';
import { BlobSources } from '../snapshotter/registry/sources.js';
import { pushImage } from '../snapshotter/registry/transfer.js';
import { Store } from '../snapshotter/store.js';
import { UsageError } from './errors.js';

export interface RegistryFlags {
  insecureRegistries: string[];
  registryCa?: string;
  signal?: AbortSignal;
}

export function openRegistries(f: RegistryFlags, credentials?: CredentialStore): Registries {
  return new Registries({ insecureRegistries: f.insecureRegistries, caFile: f.registryCa, signal: f.signal, credentials });
}

function reference(name: string): Reference {
  try {
    return parseReference(name);
  } catch (e) {
    if (e instanceof InvalidReferenceError) throw new UsageError(e.message, 'references look like [registry/]name[:tag] or name@sha256:…');
    throw e;
  }
}

/** Pushes a stored manifest to a registry reference, as one progress step. */
export async function pushManifest(
  ctx: { content: ContentStore; registries: Registries; sources: BlobSources; progress: ProgressSink },
  manifest: Descriptor,
  dest: string,
  format: ManifestFormat,
): Promise<Digest> {
  const ref = reference(dest);
  const id = `push:${dest}`;
  return step(ctx.progress, id, `pushing ${formatReference(ref)}`, () =>
    pushImage(ctx.registries, ctx.content, ctx.sources, manifest, ref, {
      format,
      onTransfer: (t) => ctx.progress({ type: 'transfer', id, digest: t.digest, current: t.current, total: t.size, state: t.state }),
    }),
  );
}

async function withStore<T>(root: string | undefined, fn: (s: { store: Store; content: ContentStore; images: ImageStore }) => Promise<T>): Promise<T> {
  const store = Store.open(root);
  try {
    return await fn({ store, content: new ContentStore(store), images: new ImageStore(store) });
  } finally {
    await store.close();
  }
}

export async function pullCommand(name: string, flags: RegistryFlags, root: string | undefined, progress: ProgressSink): Promise<string> {
  const full = normalizeReference(name);
  reference(name);
  return withStore(root, async ({ store, content, images }) => {
    const registries = openRegistries(flags);
    try {
      const resolver = new ImageResolver(content, images, undefined, { registries, sources: new BlobSources(store), progress, always: true });
      const desc = await resolver.pull(full);
      return desc.digest;
    } finally {
      await registries.close();
    }
  });
}

export async function pushCommand(image: string, dest: string | undefined, format: ManifestFormat, flags: RegistryFlags, root: string | undefined, progress: ProgressSink): Promise<Digest> {
  return withStore(root, async ({ store, content, images }) => {
    const desc = await images.resolve(normalizeReference(image));
    if (!desc) throw new UsageError(`No such image: ${image}`, 'see `tsbuild images`');
    const registries = openRegistries(flags);
    try {
      return await pushManifest({ content, registries, sources: new BlobSources(store), progress }, desc, dest ?? image, format);
    } finally {
      await registries.close();
    }
  });
}

export async function tagCommand(source: string, target: string, root: string | undefined): Promise<void> {
  reference(target);
  await withStore(root, async ({ images }) => {
    const desc = await images.resolve(normalizeReference(source));
    if (!desc) throw new UsageError(`No such image: ${source}`, 'see `tsbuild images`');
    await images.tag(normalizeReference(target), desc);
  });
}

/** A credential store that answers with the credentials being tried (login verifies before saving). */
class TryCredentials extends CredentialStore {
  constructor(private readonly creds: Credentials) {
    super();
  }
  override async get(): Promise<Credentials> {
    return this.creds;
  }
}

/** Registry host of a login argument: `registry.example`, `https://registry.example/v2/`, or none for Docker Hub. */
export function loginHost(arg: string | undefined): string {
  if (!arg) return 'docker.io';
  return arg.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
}

export async function loginCommand(hostArg: string | undefined, username: string, password: string, flags: RegistryFlags): Promise<string> {
  const host = loginHost(hostArg);
  const registries = openRegistries(flags, new TryCredentials({ username, password }));
  try {
    const res = await registries.transport(host).send({ method: 'GET', path: '/v2/', scopes: [] });
    await res.body.dump();
  } finally {
    await registries.close();
  }
  return new CredentialStore().store(host, username, password);
}

export async function logoutCommand(hostArg: string | undefined): Promise<boolean> {
  return new CredentialStore().erase(loginHost(hostArg));
}

