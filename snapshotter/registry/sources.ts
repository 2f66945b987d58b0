// Which repositories of which registries are known to hold a blob (pulled from or pushed to), so a
// push can mount it from there instead of uploading it again. Best effort: losing it only costs an upload.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Digest } from '../../common/oci.js';
import type { Store } from '../store.js';

export class BlobSources {
  private readonly file: string;
  private data: Record<string, string[]>;
  private dirty = false;

  constructor(private readonly store: Store) {
    this.file = path.join(store.cacheDir, 'blob-sources.json');
    try {
      this.data = JSON.parse(readFileSync(this.file, 'utf8')) as Record<string, string[]>;
    } catch {
      this.data = {};
    }
  }

  /** Repositories on `host` holding `digest`. */
  reposOn(host: string, digest: Digest): string[] {
    return (this.data[digest] ?? []).filter((r) => r.startsWith(`${host}/`)).map((r) => r.slice(host.length + 1));
  }

  /** Every `host/repo` known to hold `digest`. */
  holders(digest: Digest): string[] {
    return [...(this.data[digest] ?? [])];
  }

  add(host: string, repo: string, digest: Digest): void {
    const key = `${host}/${repo}`;
    const list = (this.data[digest] ??= []);
    if (!list.includes(key)) {
      list.push(key);
      this.dirty = true;
    }
  }

  async save(): Promise<void> {
    if (this.dirty) await this.store.writeFileAtomic(this.file, JSON.stringify(this.data));
    this.dirty = false;
  }
}
