// The store root: an OCI image layout (oci-layout, index.json, blobs/) plus tsbuild's own
// snapshots/, cache/ and tmp/. Every write goes to tmp/ first and is renamed into place.
import { mkdirSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { open, readFile, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import path from 'node:path';

export function defaultStoreRoot(): string {
  if (process.env.TSBUILD_ROOT) return process.env.TSBUILD_ROOT;
  if (process.getuid?.() === 0) return '/var/lib/tsbuild';
  const xdg = process.env.XDG_DATA_HOME ?? path.join(process.env.HOME ?? '/tmp', '.local', 'share');
  return path.join(xdg, 'tsbuild');
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class Store {
  readonly blobsDir: string;
  readonly snapshotsDir: string;
  readonly cacheDir: string;
  /** This process's private scratch dir; other processes' dead ones are removed at open. */
  readonly tmpDir: string;
  readonly locksDir: string;

  private constructor(readonly root: string) {
    this.blobsDir = path.join(root, 'blobs', 'sha256');
    this.snapshotsDir = path.join(root, 'snapshots');
    this.cacheDir = path.join(root, 'cache');
    this.locksDir = path.join(root, 'locks');
    this.tmpDir = path.join(root, 'tmp', `${process.pid}-${randomBytes(4).toString('hex')}`);
  }

  static open(root: string = defaultStoreRoot()): Store {
    const s = new Store(path.resolve(root));
    for (const d of [s.blobsDir, s.snapshotsDir, s.cacheDir, s.locksDir, s.tmpDir]) mkdirSync(d, { recursive: true });
    if (!existsSync(path.join(s.root, 'oci-layout'))) {
      writeFileSync(path.join(s.root, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    }
    if (!existsSync(path.join(s.root, 'index.json'))) {
      writeFileSync(path.join(s.root, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [] }));
    }
    s.removeStaleTemporaries();
    return s;
  }

  /** A crashed build leaves only its tmp dir (and unfinished snapshots, marked by no commit file). */
  private removeStaleTemporaries(): void {
    const tmpRoot = path.dirname(this.tmpDir);
    for (const name of readdirSync(tmpRoot)) {
      const pid = Number(name.split('-')[0]);
      if (path.join(tmpRoot, name) !== this.tmpDir && !(pid > 0 && pidAlive(pid))) {
        rmSync(path.join(tmpRoot, name), { recursive: true, force: true });
      }
    }
  }

  tmpPath(prefix = 'tmp'): string {
    return path.join(this.tmpDir, `${prefix}-${randomBytes(6).toString('hex')}`);
  }

  /** Writes a small file atomically: temp file then rename. */
  async writeFileAtomic(file: string, data: string | Buffer): Promise<void> {
    const tmp = this.tmpPath('write');
    await writeFile(tmp, data);
    await rename(tmp, file);
  }

  /** Cross-process mutual exclusion on a name (index.json updates, snapshot GC). */
  async withLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const lock = path.join(this.locksDir, `${name}.lock`);
    for (let attempt = 0; ; attempt++) {
      try {
        const fh = await open(lock, 'wx');
        await fh.writeFile(String(process.pid));
        await fh.close();
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        const holder = Number(await readFile(lock, 'utf8').catch(() => '0'));
        if (holder > 0 && !pidAlive(holder)) {
          await unlink(lock).catch(() => {});
          continue;
        }
        if (attempt > 3000) throw new Error(`timed out waiting for store lock ${lock} held by pid ${holder}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    }
    try {
      return await fn();
    } finally {
      await unlink(lock).catch(() => {});
    }
  }

  async close(): Promise<void> {
    await rm(this.tmpDir, { recursive: true, force: true });
  }
}
