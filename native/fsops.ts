// Typed wrapper over the addon's filesystem calls (native/src/fsops.cc). Node has no xattr or mknod API.
// All calls are synchronous and act on the path itself, never following a final symlink.
// Errors look like Node fs errors: `.code` ('ENOTSUP', 'ENOENT', ...), `.errno`, `.syscall`, `.path`.
import { addon } from './binding.js';

interface FsOpsAddon {
  listXattrs(path: string): string[];
  getXattr(path: string, name: string): Buffer | null;
  setXattr(path: string, name: string, value: Buffer): void;
  removeXattr(path: string, name: string): void;
  mknod(path: string, mode: number, major: number, minor: number): void;
}

const ops = (): FsOpsAddon => addon() as FsOpsAddon;

/** Names of the extended attributes of `path` (llistxattr). */
export function listXattrs(path: string): string[] {
  return ops().listXattrs(path);
}

/** Raw value of one attribute (lgetxattr), or null when it is not set. */
export function getXattr(path: string, name: string): Buffer | null {
  return ops().getXattr(path, name);
}

/** Sets one attribute (lsetxattr), creating or replacing it. */
export function setXattr(path: string, name: string, value: Buffer): void {
  ops().setXattr(path, name, value);
}

/** Removes one attribute (lremovexattr); ENODATA when absent. */
export function removeXattr(path: string, name: string): void {
  ops().removeXattr(path, name);
}

/** mknod(2). `mode` includes the type bits (fs.constants.S_IFCHR, S_IFBLK, S_IFIFO) and permissions. */
export function mknod(path: string, mode: number, major: number, minor: number): void {
  ops().mknod(path, mode, major, minor);
}

/** All attributes of `path` as name → raw bytes (names sorted for deterministic output). */
export function readXattrs(path: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const name of listXattrs(path).sort()) {
    const v = getXattr(path, name);
    if (v !== null) out.set(name, v);
  }
  return out;
}
