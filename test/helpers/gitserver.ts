// A git repository served on loopback, by git daemon (git://) and over smart HTTP(S) (git
// http-backend), and plain files over HTTP(S): for ADD and --build-context of remote sources. With
// `tls`, the servers speak https with a certificate from a fresh CA (clients trust it through
// NODE_EXTRA_CA_CERTS and GIT_SSL_CAINFO). Servers stop when the test file's tests are done.
import test from 'ava';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createReadStream, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type RequestListener, type Server } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { tmpDir } from './cli.js';
import { freePort, makeTlsMaterial } from './registry.js';

const children: ChildProcess[] = [];
const servers: Server[] = [];
test.after.always('stop the git and http servers of this file', () => {
  // Each child leads its own process group: `git daemon` runs git-daemon (and one process per
  // connection) under the git wrapper, and killing the wrapper alone would leave them running.
  for (const c of children.splice(0)) process.kill(-c.pid!, 'SIGKILL');
  for (const s of servers.splice(0)) s.close();
});

export interface GitRepo {
  /** The directory holding repo.git (a bare clone). */
  base: string;
  /** The commit tagged v1 (README "version one"); main is one commit later ("version two"). */
  v1: string;
}

/** A repository with README and sub/file.txt, a tag v1 and a later commit on main, as base/repo.git. */
export function gitRepo(): GitRepo {
  const base = tmpDir('tsbuild-git-');
  const work = path.join(base, 'work');
  mkdirSync(path.join(work, 'sub'), { recursive: true });
  const g = (...args: string[]) => execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], { cwd: work, encoding: 'utf8' }).trim();
  g('init', '-q', '-b', 'main');
  writeFileSync(path.join(work, 'README'), 'version one\n');
  writeFileSync(path.join(work, 'sub', 'file.txt'), 'in subdir\n');
  g('add', '.');
  g('commit', '-q', '-m', 'one');
  g('tag', '-a', 'v1', '-m', 'v1');
  const v1 = g('rev-parse', 'HEAD');
  writeFileSync(path.join(work, 'README'), 'version two\n');
  g('commit', '-q', '-am', 'two');
  execFileSync('git', ['clone', '-q', '--bare', work, path.join(base, 'repo.git')]);
  return { base, v1 };
}

/** gitRepo() served by git daemon: its git:// URL. */
export async function gitServer(): Promise<{ url: string; v1: string }> {
  const { base, v1 } = gitRepo();
  const port = await freePort();
  const daemon = spawn('git', ['daemon', '--export-all', '--reuseaddr', `--base-path=${base}`, '--listen=127.0.0.1', `--port=${port}`, base], { stdio: 'ignore', detached: true });
  children.push(daemon);
  for (let i = 0; i < 100; i++) {
    try {
      execFileSync('git', ['ls-remote', `git://127.0.0.1:${port}/repo.git`], { stdio: 'ignore' });
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return { url: `git://127.0.0.1:${port}/repo.git`, v1 };
}

/** Certificates for https servers on 127.0.0.1: a server's, and the CA clients must trust. */
export interface TlsMaterial {
  caPath: string;
  certPath: string;
  keyPath: string;
}

export function tlsMaterial(): Promise<TlsMaterial> {
  return makeTlsMaterial(tmpDir('tsbuild-tls-'));
}

/** Starts `handler` on loopback, over https with `tls`: its base URL. */
async function serve(handler: RequestListener, tls?: TlsMaterial): Promise<string> {
  const server = tls ? createTlsServer({ cert: readFileSync(tls.certPath), key: readFileSync(tls.keyPath) }, handler) : createServer(handler);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `${tls ? 'https' : 'http'}://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** gitRepo() served over git's smart HTTP protocol (git http-backend as a CGI program): its http(s):// URL. */
export async function gitHttpServer(tls?: TlsMaterial): Promise<{ url: string; v1: string }> {
  const { base, v1 } = gitRepo();
  const url = await serve((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    const env: NodeJS.ProcessEnv = { ...process.env, GIT_PROJECT_ROOT: base, GIT_HTTP_EXPORT_ALL: '1', PATH_INFO: u.pathname, QUERY_STRING: u.search.slice(1), REQUEST_METHOD: req.method ?? 'GET', REMOTE_ADDR: '127.0.0.1' };
    for (const [k, v] of Object.entries({ CONTENT_TYPE: req.headers['content-type'], CONTENT_LENGTH: req.headers['content-length'], HTTP_CONTENT_ENCODING: req.headers['content-encoding'], GIT_PROTOCOL: req.headers['git-protocol'] })) {
      if (typeof v === 'string') env[k] = v;
    }
    const cgi = spawn('git', ['http-backend'], { env, stdio: ['pipe', 'pipe', 'ignore'] });
    req.pipe(cgi.stdin);
    // A CGI answer: header lines (Status: among them), a blank line, the body.
    let head: Buffer | undefined = Buffer.alloc(0);
    cgi.stdout.on('data', (chunk: Buffer) => {
      if (!head) return void res.write(chunk);
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      for (const line of head.subarray(0, end).toString().split('\r\n')) {
        const colon = line.indexOf(':');
        const [k, v] = [line.slice(0, colon).trim(), line.slice(colon + 1).trim()];
        if (k.toLowerCase() === 'status') res.statusCode = Number.parseInt(v, 10);
        else res.setHeader(k, v);
      }
      res.write(head.subarray(end + 4));
      head = undefined;
    });
    cgi.stdout.on('end', () => res.end());
  }, tls);
  return { url: `${url}/repo.git`, v1 };
}

/** The files under `dir` over HTTP(S) on loopback: its base URL (404 for what is not a file). */
export function fileServer(dir: string, tls?: TlsMaterial): Promise<string> {
  return serve((req, res) => {
    const file = path.join(dir, path.normalize(`/${decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)}`));
    let isFile = false;
    try {
      isFile = statSync(file).isFile();
    } catch {
      // answered 404 below
    }
    if (!isFile) {
      res.statusCode = 404;
      res.end('not found\n');
      return;
    }
    createReadStream(file).pipe(res);
  }, tls);
}
