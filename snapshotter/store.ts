// The store root: an OCI image layout (oci-layout, index.json, blobs/) plus tsbuild's own
// snapshots/, cache/ and tmp/. Every write goes to tmp/ first and is renamed into place.
import { chmodSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { link, readFile, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { TsbuildError } from '../common/errors.js';
import { indexDocument, INDEX_FILE, LAYOUT_FILE, LAYOUT_MARKER } from './ocilayout.js';

export function defaultStoreRoot(): string {
  if (process.env.TSBUILD_ROOT) return process.env.TSBUILD_ROOT;
  // TSBUILD_ROOTLESS: cmd re-executed itself as root of a user namespace for a user who is not.
  if (process.getuid?.() === 0 && process.env.TSBUILD_ROOTLESS !== '1') return '/var/lib/tsbuild';
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

/**
 * tsbuild before 0.2 put secret files in /dev/shm/tsbuild-secret-*, and a killed build left them there.
 * Secrets now exist only inside the container's mount namespace, so any such directory of this user is
 * a leftover.
 */
function removeLegacySecretDirs(): void {
  let names: string[];
  try {
    names = readdirSync('/dev/shm').filter((n) => n.startsWith('tsbuild-secret-'));
  } catch {
    return;
  }
  for (const name of names) {
    const p = path.join('/dev/shm', name);
    try {
      if (statSync(p).uid === process.getuid?.()) rmSync(p, { recursive: true, force: true });
    } catch {
      // gone meanwhile
    }
  }
}

export class Store {
  readonly blobsDir: string;
  readonly snapshotsDir: string;
  readonly cacheDir: string;
  /** This process's private scratch dir; other processes' dead ones are removed at open. */
  readonly tmpDir: string;
  readonly locksDir: string;
  /** RUN --mount=type=cache directories, by id: kept across builds, outside snapshots. */
  readonly cacheMountsDir: string;

  private constructor(readonly root: string) {
    this.blobsDir = path.join(root, 'blobs', 'sha256');
    this.snapshotsDir = path.join(root, 'snapshots');
    this.cacheDir = path.join(root, 'cache');
    this.locksDir = path.join(root, 'locks');
    this.cacheMountsDir = path.join(root, 'cache-mounts');
    this.tmpDir = path.join(root, 'tmp', `${process.pid}-${randomBytes(4).toString('hex')}`);
  }

  static open(root: string = defaultStoreRoot()): Store {
    const s = new Store(path.resolve(root));
    s.makePrivate();
    for (const d of [s.blobsDir, s.snapshotsDir, s.cacheDir, s.locksDir, s.cacheMountsDir, s.tmpDir]) mkdirSync(d, { recursive: true, mode: 0o700 });
    if (!existsSync(path.join(s.root, LAYOUT_FILE))) writeFileSync(path.join(s.root, LAYOUT_FILE), LAYOUT_MARKER);
    if (!existsSync(path.join(s.root, INDEX_FILE))) writeFileSync(path.join(s.root, INDEX_FILE), indexDocument([]));
    s.removeStaleTemporaries();
    return s;
  }

  /**
   * Unpacked images keep their setuid files and device nodes as the image has them, so no other user may
   * reach anything under the root (containerd and BuildKit keep theirs 0700 for the same reason). A store
   * made before this rule is repaired here; the root alone is enough, as nothing under it is reachable
   * without traversing it.
   */
  private makePrivate(): void {
    mkdirSync(this.root, { recursive: true, mode: 0o700 });
    if ((statSync(this.root).mode & 0o077) !== 0) chmodSync(this.root, 0o700);
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
    removeLegacySecretDirs();
  }

  /** Pids of other live tsbuild processes using this store (each keeps a tmp dir while it runs). */
  otherUsers(): number[] {
    const tmpRoot = path.dirname(this.tmpDir);
    return readdirSync(tmpRoot)
      .filter((name) => path.join(tmpRoot, name) !== this.tmpDir)
      .map((name) => Number(name.split('-')[0]))
      .filter((pid) => pid > 0 && pid !== process.pid && pidAlive(pid));
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

  /**
   * Cross-process mutual exclusion on a name. Resolves to a release function, or to undefined when
   * `wait` is false and someone else holds it. A holder that died no longer counts.
   */
  async lock(name: string, opts: { wait?: boolean; timeoutMs?: number } = {}): Promise<(() => Promise<void>) | undefined> {
    const file = path.join(this.locksDir, `${name}.lock`);
    const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
    let tries = 0;
    for (;;) {
      const holder = await this.claim(file);
      if (holder === undefined) return () => unlink(file).catch(() => {});
      if (opts.wait === false) return undefined;
      if (Date.now() > deadline) {
        throw new TsbuildError('TSB_STORE_BUSY', `timed out waiting for store lock ${name} held by pid ${holder}`, {
          hint: `another tsbuild (pid ${holder}) is using the store ${this.root}: let it finish, or stop it, then retry`,
        });
      }
      // Short waits first (most locks are brief), then at most 10 a second: a step lock may be held for minutes.
      await new Promise((r) => setTimeout(r, Math.min(100, 10 * 2 ** Math.min(4, tries++))));
    }
  }

  /**
   * One try at owning `file`: undefined when this call now holds it, else the live holder's pid.
   * A lock file appears complete (linked from a temporary) and holds `pid-tag`, a tag never reused.
   * A dead holder's file may be replaced only by whoever first claims `<file>.<its content>`: of
   * waiters that all saw the same holder dead, one replaces it, and any later one finds it changed.
   */
  private async claim(file: string): Promise<number | undefined> {
    const mine = this.tmpPath('lock');
    await writeFile(mine, `${process.pid}-${randomBytes(8).toString('hex')}`);
    try {
      for (;;) {
        try {
          await link(mine, file);
          return undefined;
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        }
        const held = await readFile(file, 'utf8').catch(() => undefined);
        if (held === undefined) continue; // released meanwhile
        const pid = Number(/^(\d+)(-[0-9a-f]+)?$/.exec(held)?.[1] ?? 0);
        if (pid === 0 || pidAlive(pid)) return pid;
        const reap = `${file}.${held}`;
        const reaper = await this.claim(reap);
        if (reaper !== undefined) return reaper;
        try {
          if ((await readFile(file, 'utf8').catch(() => undefined)) !== held) continue;
          await rename(mine, file);
          return undefined;
        } finally {
          await unlink(reap).catch(() => {});
        }
      }
    } finally {
      await unlink(mine).catch(() => {});
    }
  }

  async withLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const release = (await this.lock(name))!;
    try {
      return await fn();
    } finally {
      await release();
    }
  }

  async close(): Promise<void> {
    await rm(this.tmpDir, { recursive: true, force: true });
  }
}
