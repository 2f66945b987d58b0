// Images to and from registries as commands: pull, push, and checking credentials for login.
import type { Digest } from '../common/oci.js';
import { CredentialStore, type Credentials } from '../snapshotter/registry/credentials.js';
import type { ManifestFormat } from '../snapshotter/registry/format.js';
import { Registries } from '../snapshotter/registry/registries.js';
import type { RegistrySettings, StoreParts } from './engine.js';
import { pushManifest } from './exporters/registry.js';
import { imageRef, storedImage } from './images.js';
import type { ProgressSink } from './progress.js';
import { ImageResolver } from './resolver.js';

export async function pullImage(parts: StoreParts, name: string, progress: ProgressSink): Promise<Digest> {
  const full = imageRef(name);
  const resolver = new ImageResolver(parts.content, parts.images, undefined, { registries: parts.registries(), sources: parts.sources, progress, always: true });
  return (await resolver.pull(full)).digest;
}

export async function pushStoredImage(parts: StoreParts, image: string, dest: string | undefined, format: ManifestFormat, progress: ProgressSink): Promise<Digest> {
  const desc = await storedImage(parts, image);
  const target = dest ?? image;
  imageRef(target);
  return pushManifest(parts, progress, desc, target, format);
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

/** Checks the credentials against the registry, then saves them; returns where they went. */
export async function login(settings: RegistrySettings, hostArg: string | undefined, username: string, password: string, signal?: AbortSignal): Promise<string> {
  const host = loginHost(hostArg);
  const registries = new Registries({ insecureRegistries: settings.insecureRegistries ?? [], ...(settings.caFile !== undefined ? { caFile: settings.caFile } : {}), ...(signal ? { signal } : {}), credentials: new TryCredentials({ username, password }) });
  try {
    const res = await registries.transport(host).send({ method: 'GET', path: '/v2/', scopes: [] });
    await res.body.dump();
  } finally {
    await registries.close();
  }
  return new CredentialStore().store(host, username, password);
}

export async function logout(hostArg: string | undefined): Promise<boolean> {
  return new CredentialStore().erase(loginHost(hostArg));
}
