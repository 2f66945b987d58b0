// Layer compressions: which one a media type names, and streams that compress or decompress it.
// gzip is node:zlib; Node 20's zlib has no zstd, so zstd runs Debian's `zstd` CLI as a streaming
// child process (no native build, no download at install time; TSBUILD_ZSTD names another binary).
import { spawn } from 'node:child_process';
import { Duplex, PassThrough } from 'node:stream';
import { createGunzip, createGzip } from 'node:zlib';
import { TsbuildError } from '../common/errors.js';
import { findExecutable } from '../common/executable.js';
import { MediaType } from '../common/oci.js';

export type Compression = 'uncompressed' | 'gzip' | 'zstd';
export const COMPRESSIONS: readonly Compression[] = ['uncompressed', 'gzip', 'zstd'];

/** Levels each compression takes (BuildKit's defaults: gzip 6, zstd 3). */
export const LEVELS: Readonly<Record<Compression, { min: number; max: number; default: number } | undefined>> = {
  uncompressed: undefined,
  gzip: { min: 0, max: 9, default: 6 },
  zstd: { min: 1, max: 19, default: 3 },
};

export class CompressionUnavailableError extends TsbuildError {
  constructor(binary: string) {
    super('TSB_COMPRESSION_UNAVAILABLE', `zstd layers need the zstd program, and "${binary}" is not an executable on PATH`, {
      hint: 'install it (Debian/Ubuntu: apt-get install zstd), or set TSBUILD_ZSTD to its path; or use compression=gzip',
    });
  }
}

/** The compression of a layer media type (OCI or Docker); undefined for types that are not layer tars. */
export function compressionOf(mediaType: string): Compression | undefined {
  if (mediaType === MediaType.ociLayer || mediaType === MediaType.dockerLayer) return 'uncompressed';
  // OCI `…tar+gzip`, Docker `…tar.gzip`; the non-distributable variants too.
  if (/\.tar[+.]gzip$/.test(mediaType)) return 'gzip';
  if (/\.tar\+zstd$/.test(mediaType)) return 'zstd';
  if (/\.tar$/.test(mediaType)) return 'uncompressed';
  return undefined;
}

/** The OCI media type of a layer in `c`. */
export function ociLayerMediaType(c: Compression): string {
  return c === 'gzip' ? MediaType.ociLayerGzip : c === 'zstd' ? MediaType.ociLayerZstd : MediaType.ociLayer;
}

function zstdBinary(): string {
  const name = process.env.TSBUILD_ZSTD || 'zstd';
  const found = findExecutable(name);
  if (!found) throw new CompressionUnavailableError(name);
  return found;
}

/** Fails now (before any work) when `c` cannot be used here. */
export function checkAvailable(c: Compression): void {
  if (c === 'zstd') zstdBinary();
}

/** A child process as a transform stream: stdin in, stdout out; a non-zero exit is a stream error. */
function processStream(binary: string, args: string[], what: string): Duplex {
  const child = spawn(binary, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    if (stderr.length < 2000) stderr += d.toString();
  });
  const out = new PassThrough();
  const duplex = Duplex.from({ writable: child.stdin, readable: out });
  child.stdout.pipe(out, { end: false });
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  child.stdout.on('end', () => {
    void exited.then((code) => {
      if (code === 0) out.end();
      else out.destroy(new TsbuildError('TSB_ARCHIVE_INVALID', `${what} failed: ${stderr.trim() || `zstd exited with code ${code}`}`));
    });
  });
  child.on('error', (e) => out.destroy(e));
  // An abandoned stream (consumer error) must not leave the child behind.
  duplex.on('close', () => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  return duplex;
}

/** A stream that compresses a tar into `c` at `level` (the compression's default when undefined). */
export function compressor(c: Compression, level?: number): Duplex {
  if (c === 'gzip') return createGzip({ level: level ?? LEVELS.gzip!.default });
  if (c === 'zstd') return processStream(zstdBinary(), ['-q', '-c', `-${level ?? LEVELS.zstd!.default}`, '--no-progress'], 'zstd compression');
  return new PassThrough();
}

/** A stream that turns a layer blob in `c` back into its tar. */
export function decompressor(c: Compression): Duplex {
  if (c === 'gzip') return createGunzip();
  if (c === 'zstd') return processStream(zstdBinary(), ['-q', '-d', '-c', '--no-progress'], 'zstd decompression');
  return new PassThrough();
}
