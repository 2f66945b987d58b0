// ADD <url> and --build-context NAME=<url>: downloads a file over HTTP(S) into the build's scratch
// space, verifying --checksum. Like BuildKit: mode 0600, mtime from Last-Modified; the frontend
// (or the CLI, for a named context) picks the file name.
import { TsbuildError } from '../common/errors.js';
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, utimes } from 'node:fs/promises';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Digest } from '../common/oci.js';

export class RemoteFileError extends TsbuildError {
  constructor(message: string, hint?: string) {
    super('TSB_REMOTE', message, hint !== undefined ? { hint } : {});
  }
}

export interface RemoteFile {
  dir: string;
  name: string;
  digest: Digest;
}

export async function downloadFile(url: string, name: string, dir: string, checksum?: Digest, signal?: AbortSignal): Promise<RemoteFile> {
  let res: Response;
  try {
    res = await fetch(url, { redirect: 'follow', signal });
  } catch (e) {
    throw new RemoteFileError(`download of ${url}: ${(e as Error & { cause?: Error }).cause?.message ?? (e as Error).message}`, 'check the URL and the network');
  }
  if (!res.ok || !res.body) throw new RemoteFileError(`download of ${url}: the server answered ${res.status} ${res.statusText}`, 'check the URL: the server has no file there');
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, name);
  const hash = createHash('sha256');
  const hasher = new Transform({
    transform(chunk: Buffer, _e, cb) {
      hash.update(chunk);
      cb(null, chunk);
    },
  });
  await pipeline(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream), hasher, createWriteStream(file, { mode: 0o600 }));
  const digest: Digest = `sha256:${hash.digest('hex')}`;
  if (checksum && checksum !== digest) {
    throw new RemoteFileError(`download of ${url}: checksum mismatch: expected ${checksum}, got ${digest}`, 'the file changed, or --checksum is wrong');
  }
  const modified = res.headers.get('last-modified');
  if (modified && Number.isFinite(Date.parse(modified))) {
    const t = new Date(Date.parse(modified));
    await utimes(file, t, t);
  }
  return { dir, name, digest };
}
