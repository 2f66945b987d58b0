// Layers of an imported cache are not downloaded when the cache is read: the store learns where each
// blob lives (a registry repository, kept in BlobSources across runs, or a local cache directory,
// for this process) and fetches it on first read (ContentStore.ensure). A push to the registry that
// holds them mounts them instead, so they may never be downloaded at all.
import { createReadStream } from 'node:fs';
import type { Digest } from '../common/oci.js';
import type { ContentStore } from '../snapshotter/content.js';
import type { Registries } from '../snapshotter/registry/registries.js';
import type { BlobSources } from '../snapshotter/registry/sources.js';

export class LazyBlobs {
  /** digest → file in a local cache directory (type=local), for this process. */
  private readonly files = new Map<Digest, string>();

  constructor(
    private readonly content: ContentStore,
    private readonly sources: BlobSources,
    private readonly registries: () => Registries,
  ) {
    content.fetcher = (digest) => this.fetch(digest);
  }

  addFile(digest: Digest, file: string): void {
    this.files.set(digest, file);
  }

  /** Whether the blob can only come from this process's local sources (so it must be copied before they go). */
  onlyLocal(digest: Digest): boolean {
    return this.files.has(digest) && this.sources.holders(digest).length === 0;
  }

  private async fetch(digest: Digest): Promise<void> {
    const file = this.files.get(digest);
    if (file) {
      await this.content.put(createReadStream(file), digest);
      return;
    }
    let lastError: unknown;
    for (const holder of this.sources.holders(digest)) {
      const slash = holder.indexOf('/');
      const repo = this.registries().repository({ domain: holder.slice(0, slash), path: holder.slice(slash + 1) });
      try {
        await repo.fetchBlob({ mediaType: 'application/octet-stream', digest, size: 0 }, this.content);
        return;
      } catch (e) {
        lastError = e; // try the next holder
      }
    }
    if (lastError) throw lastError;
  }
}
