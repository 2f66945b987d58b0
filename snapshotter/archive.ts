// Local tar archives for ADD's auto-extraction: detected by content (as Docker does, never by
// name), decompressed (gzip in-process; bzip2 and xz through the system tools), unpacked contained.
import { spawn } from 'node:child_process';
import { closeSync, createReadStream, openSync, readSync } from 'node:fs';
import { pipeline, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import path from 'node:path';
import { applyLayer } from './apply.js';

export type ArchiveKind = 'tar' | 'gzip' | 'bzip2' | 'xz' | 'zstd';

function head(file: string, n: number): Buffer {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(n);
    const got = readSync(fd, buf, 0, n, 0);
    return buf.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

function looksLikeTar(b: Buffer): boolean {
  return b.length >= 262 && (b.subarray(257, 262).toString('latin1') === 'ustar');
}

/** The archive kind of a file, or undefined for anything else (which ADD copies as is). */
export function detectArchive(file: string): ArchiveKind | undefined {
  const b = head(file, 512);
  if (b[0] === 0x1f && b[1] === 0x8b) return 'gzip';
  if (b.subarray(0, 3).toString('latin1') === 'BZh') return 'bzip2';
  if (b.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return 'xz';
  if (b.subarray(0, 4).equals(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]))) return 'zstd';
  return looksLikeTar(b) ? 'tar' : undefined;
}

function decompressWith(cmd: string, file: string): Readable {
  const child = spawn(cmd, ['-dc', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  child.on('close', (code) => {
    if (code !== 0) child.stdout.destroy(new Error(`${cmd} -dc ${file}: ${err.trim() || `exit code ${code}`}`));
  });
  child.on('error', (e) => child.stdout.destroy(new Error(`${cmd} is needed to unpack ${file}: ${e.message}`)));
  return child.stdout;
}

/** The uncompressed tar stream of an archive. */
function openTar(file: string, kind: ArchiveKind): Readable {
  if (kind === 'tar') return createReadStream(file);
  if (kind === 'gzip') return pipeline(createReadStream(file), createGunzip(), () => {});
  return decompressWith(kind === 'bzip2' ? 'bzip2' : kind === 'xz' ? 'xz' : 'zstd', file);
}

/**
 * Unpacks an archive into `targetDir` (a directory of the snapshot being written). Compressed files
 * that are not tars inside are not archives for ADD: returns false and leaves the target alone.
 * `name` (the source as the Dockerfile gives it) is what errors call the archive.
 */
export async function unpackArchive(file: string, kind: ArchiveKind, targetDir: string, name = path.basename(file)): Promise<boolean> {
  if (kind !== 'tar') {
    // Peek inside: gzip of something other than a tar is copied as a plain file.
    const peek = openTar(file, kind);
    const first = await new Promise<Buffer>((resolve) => {
      const chunks: Buffer[] = [];
      let size = 0;
      peek.on('data', (c: Buffer) => {
        chunks.push(c);
        size += c.length;
        if (size >= 512) {
          peek.destroy();
          resolve(Buffer.concat(chunks));
        }
      });
      peek.on('end', () => resolve(Buffer.concat(chunks)));
      peek.on('error', () => resolve(Buffer.alloc(0)));
      peek.on('close', () => resolve(Buffer.concat(chunks)));
    });
    if (!looksLikeTar(first)) return false;
  }
  await applyLayer(openTar(file, kind), targetDir, { whiteouts: 'delete', source: { what: `ADD archive ${JSON.stringify(name)}` } });
  return true;
}
