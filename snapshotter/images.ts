// Tagged images: the manifests listed in the store's index.json, named by annotation, so other tools
// (skopeo oci:, umoci) can read the store as a plain OCI image layout.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Descriptor, Index } from '../common/oci.js';
import { MediaType } from '../common/oci.js';
import { parseIndex } from '../common/ociparse.js';
import type { Store } from './store.js';

export const RefNameAnnotation = 'org.opencontainers.image.ref.name';
export const ContainerdNameAnnotation = 'io.containerd.image.name';
export const CreatedAnnotation = 'org.opencontainers.image.created';

export interface TaggedImage {
  name: string;          // fully qualified reference
  descriptor: Descriptor;
}

export class ImageStore {
  constructor(private readonly store: Store) {}

  private get indexPath(): string {
    return path.join(this.store.root, 'index.json');
  }

  private async readIndex(): Promise<Index> {
    return parseIndex(await readFile(this.indexPath), this.indexPath);
  }

  async list(): Promise<TaggedImage[]> {
    const index = await this.readIndex();
    return index.manifests
      .filter((d) => d.annotations?.[ContainerdNameAnnotation])
      .map((d) => ({ name: d.annotations![ContainerdNameAnnotation]!, descriptor: d }));
  }

  async resolve(name: string): Promise<Descriptor | undefined> {
    return (await this.list()).find((i) => i.name === name)?.descriptor;
  }

  /** Points `name` at the manifest `desc`, replacing any previous image of that name. */
  async tag(name: string, desc: Descriptor, created?: string): Promise<void> {
    await this.store.withLock('index', async () => {
      const index = await this.readIndex();
      const annotations: Record<string, string> = { [ContainerdNameAnnotation]: name, [RefNameAnnotation]: name };
      if (created) annotations[CreatedAnnotation] = created;
      // The same name on the same image (a cached rebuild): index.json stays as it is, unwritten.
      const same = index.manifests.find((d) => d.annotations?.[ContainerdNameAnnotation] === name);
      if (same?.digest === desc.digest && JSON.stringify(same.annotations) === JSON.stringify(annotations)) return;
      index.manifests = index.manifests.filter((d) => d.annotations?.[ContainerdNameAnnotation] !== name);
      index.manifests.push({ mediaType: desc.mediaType ?? MediaType.ociManifest, digest: desc.digest, size: desc.size, annotations });
      index.manifests.sort((a, b) => (a.annotations?.[ContainerdNameAnnotation] ?? '').localeCompare(b.annotations?.[ContainerdNameAnnotation] ?? ''));
      await this.store.writeFileAtomic(this.indexPath, JSON.stringify(index, null, 2));
    });
  }

  async untag(name: string): Promise<boolean> {
    return this.store.withLock('index', async () => {
      const index = await this.readIndex();
      const before = index.manifests.length;
      index.manifests = index.manifests.filter((d) => d.annotations?.[ContainerdNameAnnotation] !== name);
      await this.store.writeFileAtomic(this.indexPath, JSON.stringify(index, null, 2));
      return index.manifests.length !== before;
    });
  }
}
