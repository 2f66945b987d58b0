// Test infrastructure for the registry client: the real CNCF registry (Debian `docker-registry`,
// distribution 2.8.2) started on loopback by the tests themselves, a Bearer token server, and a
// fault-injecting reverse proxy.
//
//   startRegistry({ auth, tls })  → a registry on 127.0.0.1:<free port>, with
//     auth 'none'      no auth at all
//     auth 'htpasswd'  Basic auth from a bcrypt htpasswd file (hashed with bcryptjs, pure JS)
//     auth 'token'     Bearer tokens from a token server started here (`.token`); JWTs are RS256 with
//                      an `x5c` header holding the signing certificate, which is also the registry's
//                      `rootcertbundle` (distribution 2.8 verifies x5c chains against that bundle)
//     tls: true        https with a server cert for IP 127.0.0.1 signed by a fresh CA (`caPath`)
//   startProxy(target) → a plain-HTTP reverse proxy on 127.0.0.1:<free port> in front of a registry,
//     recording every request and injecting faults (status / reset / truncate / corrupt / delay).
//   writeTestImage(dir) → a tiny single-layer OCI image layout, for `skopeo copy oci:DIR:TAG …`.
//
// The token server and the proxy run inside the test process: drive clients (curl, skopeo, the
// CLI) with async child_process calls — execFileSync blocks the event loop and deadlocks them.
//
// Everything listens on 127.0.0.1 only. Registries are spawned under `setpriv --pdeathsig KILL`
// so the kernel kills them if the test process dies without running its exit handlers, and a
// process 'exit' handler kills whatever stop() was not called for.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes, sign as cryptoSign } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import bcrypt from 'bcryptjs';

const execFileP = promisify(execFile);

export const REGISTRY_BINARY = '/usr/bin/docker-registry';
const LOOPBACK = '127.0.0.1';

// ---------------------------------------------------------------------------------------------
// Types

export interface RegistryServer {
  /** '127.0.0.1:PORT' — the host part of image references. */
  host: string;
  /** 'http://127.0.0.1:PORT', or 'https://…' when tls. */
  url: string;
  /** PEM of the CA that signed the TLS certificate, when tls. Its directory holds nothing else, so
   *  it can be passed as skopeo's --cert-dir / a containers certs.d directory. */
  caPath?: string;
  /** The registry's storage root (filesystem driver). */
  dataDir: string;
  /** Everything the registry printed so far (info level: one line per request, plus an access log line). */
  log(): string;
  /** Kills the registry (and its token server) and removes its temp dirs; idempotent. */
  stop(): Promise<void>;
}

export type RegistryAuth =
  | { kind: 'none' }
  | { kind: 'htpasswd'; users: Record<string, string> }
  | {
      kind: 'token';
      users: Record<string, string>;
      /** Anonymous token requests are granted `pull` (otherwise they get a token granting nothing). */
      anonymousPull?: boolean;
      /** Token lifetime in seconds (default 300). NB: the registry allows 60 s of clock leeway on exp. */
      expiresIn?: number;
    };

export interface StartRegistryOptions {
  auth?: RegistryAuth;
  tls?: boolean;
  /** Log level of the registry (default 'info', which already logs every request with its query). */
  logLevel?: 'error' | 'warn' | 'info' | 'debug';
  /** Give up waiting for `GET /v2/` after this many ms (default 15000). */
  startTimeoutMs?: number;
}

export interface TokenRequest {
  method: 'GET' | 'POST';
  /** The requested scopes, e.g. 'repository:test:pull,push'. */
  scopes: string[];
  /** The authenticated user (absent for anonymous requests and failed logins). */
  user?: string;
  status: number;
  /** What the issued token grants, e.g. ['repository:test:pull']; empty when nothing was issued. */
  granted: string[];
}

export interface TokenServer {
  /** The realm, e.g. http://127.0.0.1:PORT/token */
  url: string;
  /** The `service` value the registry challenges with (= the JWT audience). */
  service: string;
  /** The `iss` of issued tokens (= the registry's auth.token.issuer). */
  issuer: string;
  /** Every token request seen, in order. */
  requests: TokenRequest[];
  stop(): Promise<void>;
}

export type Fault =
  /** Answer with this status (and a distribution-style JSON error body) instead of forwarding. */
  | { kind: 'status'; status: number; headers?: Record<string, string> }
  /** Forward, but send TCP RST after about half of the response body (curl: error 56, or 18).
   *  For a bodiless answer (HEAD, 204, 304) the RST comes before the status line. */
  | { kind: 'reset' }
  /** Forward headers (with the real Content-Length) but close the connection (FIN) after about half
   *  of the body (curl: error 18). For a bodiless answer, close before the status line (curl: 52). */
  | { kind: 'truncate' }
  /** Forward, with the byte in the middle of the body inverted (same length, same headers). */
  | { kind: 'corrupt' }
  /** Forward after waiting `ms` (a large value makes a hang; stop() still cleans up). */
  | { kind: 'delay'; ms: number };

/** Applies to the next `times` requests matching `method` (case-insensitive) and `path` (tested on path + query). */
export interface FaultRule {
  method?: string;
  path?: RegExp;
  times: number;
  fault: Fault;
}

export interface ProxyRequest {
  method: string;
  /** Path including the query string, as the client sent it. */
  path: string;
  /** The status sent to the client (0 until the response headers were sent). */
  status: number;
  /** Request body bytes received from the client. */
  bytesIn: number;
  /** Response body bytes sent to the client. */
  bytesOut: number;
  /** The fault injected into this request, if any. */
  fault?: Fault['kind'];
}

export interface ProxyServer {
  host: string;
  url: string;
  /** Every request, pushed when it arrives and updated as it progresses. */
  requests: ProxyRequest[];
  addFaults(...rules: FaultRule[]): void;
  /** Forgets recorded requests and remaining faults. */
  clear(): void;
  stop(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Process-wide cleanup: whatever a test forgot to stop dies with the test process.

const liveChildren = new Set<ChildProcess>();
const liveDirs = new Set<string>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of liveChildren) {
      try {
        child.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
    for (const dir of liveDirs) rmSync(dir, { recursive: true, force: true });
  });
}

function tempDir(prefix: string): string {
  installExitHook();
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  liveDirs.add(dir);
  return dir;
}

function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  liveDirs.delete(dir);
}

// ---------------------------------------------------------------------------------------------
// Small utilities

/** A port that was free a moment ago (the registry binds its own, so races are retried by the caller). */
export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, LOOPBACK, resolve);
  });
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

async function listenLoopback(server: net.Server): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, LOOPBACK, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as net.AddressInfo).port;
}

async function closeServer(server: http.Server): Promise<void> {
  if (!server.listening) return;
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections();
  await closed;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await execFileP('openssl', args, { cwd });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`openssl ${args.join(' ')} failed: ${e.stderr ?? e.message}`);
  }
}

function pemToDerBase64(pem: string): string {
  // x5c wants standard (not url-safe) base64 of the DER, which is exactly the PEM body.
  return pem
    .replace(/-----(BEGIN|END) CERTIFICATE-----/g, '')
    .replace(/\s+/g, '');
}

const b64url = (data: Buffer | string): string => Buffer.from(data).toString('base64url');

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** GET url; resolves with the status, or rejects on connection errors. */
function probe(url: string, ca?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const mod = url.startsWith('https:') ? https : http;
    const req = mod.get(url, { ca, agent: false, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

// ---------------------------------------------------------------------------------------------
// Key material (openssl)

interface SigningMaterial {
  keyPem: string;
  certPem: string;
  certPath: string;
}

let signingMaterial: Promise<SigningMaterial> | undefined;

/** One RSA key + self-signed cert per process for signing tokens; the cert is the registry's rootcertbundle. */
function tokenSigningMaterial(): Promise<SigningMaterial> {
  signingMaterial ??= (async () => {
    const dir = tempDir('tsbuild-regtest-token-keys-');
    await openssl(
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'signer.key', '-out', 'signer.pem', '-days', '2', '-subj', '/CN=tsbuild test token signer'],
      dir,
    );
    return {
      keyPem: readFileSync(path.join(dir, 'signer.key'), 'utf8'),
      certPem: readFileSync(path.join(dir, 'signer.pem'), 'utf8'),
      certPath: path.join(dir, 'signer.pem'),
    };
  })();
  return signingMaterial;
}

/** A CA and a server certificate for IP:127.0.0.1 signed by it (EC keys: fast to generate). */
export async function makeTlsMaterial(dir: string): Promise<{ caPath: string; certPath: string; keyPath: string }> {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  // `req -x509` applies the v3_ca section of openssl.cnf: basicConstraints CA:TRUE.
  // The CA cert alone in its own dir: dirname(caPath) is then a valid containers cert dir
  // (skopeo --cert-dir / certs.d treat *.crt as CAs and demand a *.cert for every *.key).
  mkdirSync(path.join(dir, 'ca'));
  await openssl(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca/ca.crt', '-days', '2', '-subj', '/CN=tsbuild test CA'], dir);
  await openssl(['req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1'], dir);
  writeFileSync(
    path.join(dir, 'server.ext'),
    'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n',
  );
  await openssl(
    ['x509', '-req', '-in', 'server.csr', '-CA', 'ca/ca.crt', '-CAkey', 'ca.key', '-set_serial', `0x${randomBytes(8).toString('hex')}`, '-out', 'server.pem', '-days', '2', '-extfile', 'server.ext'],
    dir,
  );
  return { caPath: path.join(dir, 'ca', 'ca.crt'), certPath: path.join(dir, 'server.pem'), keyPath: path.join(dir, 'server.key') };
}

// ---------------------------------------------------------------------------------------------
// Token server

interface TokenServerOptions {
  users: Record<string, string>;
  anonymousPull: boolean;
  expiresIn: number;
  service: string;
  issuer: string;
  signing: SigningMaterial;
}

const KNOWN_ACTIONS = new Set(['pull', 'push', 'delete', '*']);

function parseScope(scope: string): { type: string; name: string; actions: string[] } | undefined {
  // type:name:actions, where the name itself may hold a ':' (e.g. a host:port prefix).
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first < 0 || last <= first) return undefined;
  return { type: scope.slice(0, first), name: scope.slice(first + 1, last), actions: scope.slice(last + 1).split(',').filter(Boolean) };
}

async function startTokenServer(opts: TokenServerOptions): Promise<TokenServer> {
  const requests: TokenRequest[] = [];
  const refreshTokens = new Map<string, string>(); // refresh token → user
  const certB64 = pemToDerBase64(opts.signing.certPem);

  const issue = (user: string | undefined, scopes: string[]): { jwt: string; granted: string[] } => {
    const access: Array<{ type: string; name: string; actions: string[] }> = [];
    for (const s of scopes) {
      const p = parseScope(s);
      if (!p) continue;
      let actions: string[];
      if (user !== undefined) actions = p.actions.filter((a) => KNOWN_ACTIONS.has(a));
      else actions = opts.anonymousPull && p.type === 'repository' && p.actions.includes('pull') ? ['pull'] : [];
      if (actions.length > 0) access.push({ type: p.type, name: p.name, actions });
    }
    const now = Math.floor(Date.now() / 1000);
    // distribution 2.8 (registry/auth/token/token.go) accepts a signing key from `x5c` (a chain
    // verified against rootcertbundle — the self-signed signer cert is itself in the bundle), from
    // `jwk`, or from a libtrust `kid` of a bundle key; x5c is the simplest to produce.
    const header = { typ: 'JWT', alg: 'RS256', x5c: [certB64] };
    const claims = {
      iss: opts.issuer,
      sub: user ?? '',
      aud: opts.service,
      exp: now + opts.expiresIn,
      nbf: now - 5,
      iat: now,
      jti: randomBytes(12).toString('hex'),
      access,
    };
    const signingInput = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const signature = cryptoSign('sha256', Buffer.from(signingInput), opts.signing.keyPem);
    return { jwt: `${signingInput}.${b64url(signature)}`, granted: access.map((a) => `${a.type}:${a.name}:${a.actions.join(',')}`) };
  };

  const sendJson = (res: http.ServerResponse, status: number, body: unknown): void => {
    const data = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) });
    res.end(data);
  };
  const unauthorized = (res: http.ServerResponse, rec: TokenRequest, message: string): void => {
    rec.status = 401;
    sendJson(res, 401, { errors: [{ code: 'UNAUTHORIZED', message }], details: message });
  };

  /** undefined = anonymous; null = bad credentials. */
  const checkBasic = (authz: string | undefined): string | undefined | null => {
    if (!authz) return undefined;
    const m = /^basic\s+(\S+)$/i.exec(authz.trim());
    if (!m?.[1]) return null;
    const decoded = Buffer.from(m[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return null;
    return checkPassword(decoded.slice(0, colon), decoded.slice(colon + 1));
  };
  const checkPassword = (user: string, password: string): string | null =>
    Object.prototype.hasOwnProperty.call(opts.users, user) && opts.users[user] === password ? user : null;

  const server = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://token.invalid');
    if (u.pathname !== '/token') return sendJson(res, 404, { errors: [{ code: 'NOT_FOUND', message: 'no such endpoint' }] });
    const now = new Date();

    if (req.method === 'GET') {
      // `scope` may repeat, and one value may hold several space-separated scopes.
      const scopes = u.searchParams.getAll('scope').flatMap((s) => s.split(' ')).filter(Boolean);
      const rec: TokenRequest = { method: 'GET', scopes, status: 0, granted: [] };
      requests.push(rec);
      const user = checkBasic(req.headers.authorization);
      if (user === null) return unauthorized(res, rec, 'incorrect username or password');
      if (user !== undefined) rec.user = user;
      const { jwt, granted } = issue(user, scopes);
      rec.granted = granted;
      rec.status = 200;
      const body: Record<string, unknown> = { token: jwt, access_token: jwt, expires_in: opts.expiresIn, issued_at: now.toISOString() };
      if (user !== undefined && u.searchParams.get('offline_token') === 'true') {
        const refresh = randomBytes(16).toString('hex');
        refreshTokens.set(refresh, user);
        body.refresh_token = refresh;
      }
      return sendJson(res, 200, body);
    }

    if (req.method === 'POST') {
      // OAuth2 form (what clients do with an identity token): grant_type=password|refresh_token.
      let raw = '';
      req.setEncoding('utf8');
      req.on('data', (d: string) => (raw += d));
      req.on('end', () => {
        const form = new URLSearchParams(raw);
        const scopes = form.getAll('scope').flatMap((s) => s.split(' ')).filter(Boolean);
        const rec: TokenRequest = { method: 'POST', scopes, status: 0, granted: [] };
        requests.push(rec);
        let user: string | null = null;
        let refresh: string | undefined;
        const grant = form.get('grant_type');
        if (grant === 'password') {
          user = checkPassword(form.get('username') ?? '', form.get('password') ?? '');
          if (user !== null && form.get('access_type') === 'offline') {
            refresh = randomBytes(16).toString('hex');
            refreshTokens.set(refresh, user);
          }
        } else if (grant === 'refresh_token') {
          user = refreshTokens.get(form.get('refresh_token') ?? '') ?? null;
          refresh = form.get('refresh_token') ?? undefined;
        } else {
          rec.status = 400;
          return sendJson(res, 400, { error: 'unsupported_grant_type' });
        }
        if (user === null) return unauthorized(res, rec, 'invalid credentials or refresh token');
        rec.user = user;
        const { jwt, granted } = issue(user, scopes);
        rec.granted = granted;
        rec.status = 200;
        const body: Record<string, unknown> = { access_token: jwt, expires_in: opts.expiresIn, issued_at: now.toISOString(), scope: scopes.join(' ') };
        if (refresh) body.refresh_token = refresh;
        sendJson(res, 200, body);
      });
      return;
    }
    sendJson(res, 405, { errors: [{ code: 'UNSUPPORTED', message: 'method not allowed' }] });
  });
  const port = await listenLoopback(server);
  return {
    url: `http://${LOOPBACK}:${port}/token`,
    service: opts.service,
    issuer: opts.issuer,
    requests,
    stop: () => closeServer(server),
  };
}

// ---------------------------------------------------------------------------------------------
// Registry

function registryConfig(o: {
  port: number;
  dataDir: string;
  logLevel: string;
  tls?: { certPath: string; keyPath: string };
  auth: string;
}): string {
  // JSON strings are valid YAML scalars, so paths with odd characters stay safe.
  const q = (s: string): string => JSON.stringify(s);
  const tls = o.tls ? `  tls:\n    certificate: ${q(o.tls.certPath)}\n    key: ${q(o.tls.keyPath)}\n` : '';
  return `version: 0.1
log:
  level: ${o.logLevel}
  formatter: text
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: ${q(o.dataDir)}
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
    readonly:
      enabled: false
http:
  addr: ${LOOPBACK}:${o.port}
  secret: ${q(randomBytes(16).toString('hex'))}
  headers:
    X-Content-Type-Options: [nosniff]
${tls}${o.auth}`;
}

/**
 * Starts the real registry on a free loopback port and waits until `GET /v2/` answers (200 or 401).
 * Rejects with the registry's output if it exits first. With auth 'token', `.token` is the token
 * server (stopped by the registry's stop()).
 */
export async function startRegistry(opts: StartRegistryOptions = {}): Promise<RegistryServer & { token?: TokenServer }> {
  const auth = opts.auth ?? { kind: 'none' };
  const root = tempDir('tsbuild-regtest-registry-');
  const dataDir = path.join(root, 'data');
  mkdirSync(dataDir);
  let token: TokenServer | undefined;
  try {
    const tls = opts.tls ? await makeTlsMaterial(root) : undefined;

    let authYaml = '';
    if (auth.kind === 'htpasswd') {
      // Go's bcrypt accepts the $2b$ hashes bcryptjs makes; cost 5 keeps the per-request check cheap.
      const lines = Object.entries(auth.users).map(([user, pass]) => `${user}:${bcrypt.hashSync(pass, 5)}`);
      const htpasswd = path.join(root, 'htpasswd');
      writeFileSync(htpasswd, lines.join('\n') + '\n');
      authYaml = `auth:\n  htpasswd:\n    realm: tsbuild-test-registry\n    path: ${JSON.stringify(htpasswd)}\n`;
    } else if (auth.kind === 'token') {
      const signing = await tokenSigningMaterial();
      token = await startTokenServer({
        users: auth.users,
        anonymousPull: auth.anonymousPull ?? false,
        expiresIn: auth.expiresIn ?? 300,
        service: 'tsbuild-test-registry',
        issuer: 'tsbuild-test-token-issuer',
        signing,
      });
      authYaml =
        `auth:\n  token:\n    realm: ${JSON.stringify(token.url)}\n    service: ${JSON.stringify(token.service)}\n` +
        `    issuer: ${JSON.stringify(token.issuer)}\n    rootcertbundle: ${JSON.stringify(signing.certPath)}\n`;
    }

    const caPem = tls ? readFileSync(tls.caPath, 'utf8') : undefined;
    let lastErr: Error | undefined;
    for (let attempt = 0; attempt < 5; attempt++) {
      const port = await freePort();
      const configPath = path.join(root, 'config.yml');
      writeFileSync(configPath, registryConfig({ port, dataDir, logLevel: opts.logLevel ?? 'info', tls, auth: authYaml }));
      const started = await spawnRegistry(configPath, `${tls ? 'https' : 'http'}://${LOOPBACK}:${port}`, caPem, opts.startTimeoutMs ?? 15000);
      if ('error' in started) {
        lastErr = started.error;
        if (started.addrInUse) continue; // someone took the port between freePort() and the bind
        break;
      }
      const { child, output } = started;
      let stopped: Promise<void> | undefined;
      const tokenServer = token;
      return {
        host: `${LOOPBACK}:${port}`,
        url: `${tls ? 'https' : 'http'}://${LOOPBACK}:${port}`,
        ...(tls ? { caPath: tls.caPath } : {}),
        dataDir,
        ...(tokenServer ? { token: tokenServer } : {}),
        log: () => output.join(''),
        stop: () =>
          (stopped ??= (async () => {
            await killChild(child);
            await tokenServer?.stop();
            removeDir(root);
          })()),
      };
    }
    throw lastErr ?? new Error('docker-registry did not start');
  } catch (err) {
    await token?.stop();
    removeDir(root);
    throw err;
  }
}

type SpawnResult = { child: ChildProcess; output: string[] } | { error: Error; addrInUse: boolean };

async function spawnRegistry(configPath: string, url: string, caPem: string | undefined, timeoutMs: number): Promise<SpawnResult> {
  installExitHook();
  // REGISTRY_* variables override the config file in distribution; never inherit any.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('REGISTRY_')));
  // setpriv --pdeathsig: the kernel SIGKILLs the registry when this process dies, even by SIGKILL.
  const usePdeath = existsSync('/usr/bin/setpriv');
  const [cmd, args] = usePdeath
    ? ['/usr/bin/setpriv', ['--pdeathsig', 'KILL', '--', REGISTRY_BINARY, 'serve', configPath]]
    : [REGISTRY_BINARY, ['serve', configPath]];
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env, detached: false });
  liveChildren.add(child);
  const output: string[] = [];
  child.stdout?.on('data', (d: Buffer) => output.push(d.toString()));
  child.stderr?.on('data', (d: Buffer) => output.push(d.toString()));
  let exited: string | undefined;
  child.on('exit', (code, signal) => {
    exited = `exited with ${signal ?? code}`;
    liveChildren.delete(child);
  });
  child.on('error', (err) => (exited = `failed to spawn: ${err.message}`));

  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (exited !== undefined) {
      // Let the last output arrive before reporting it.
      await sleep(50);
      const text = output.join('');
      return { error: new Error(`docker-registry ${exited}:\n${text}`), addrInUse: /address already in use/.test(text) };
    }
    try {
      const status = await probe(`${url}/v2/`, caPem);
      if (status === 200 || status === 401) return { child, output };
    } catch {
      // not listening yet
    }
    await sleep(50);
  }
  await killChild(child);
  return { error: new Error(`docker-registry did not answer GET /v2/ within ${timeoutMs} ms:\n${output.join('')}`), addrInUse: false };
}

async function killChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    liveChildren.delete(child);
    return;
  }
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
  liveChildren.delete(child);
}

// ---------------------------------------------------------------------------------------------
// Fault-injecting reverse proxy

const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'upgrade', 'te', 'trailer', 'expect'];

function errorCodeFor(status: number): string {
  if (status === 429) return 'TOOMANYREQUESTS';
  if (status === 401) return 'UNAUTHORIZED';
  if (status === 403) return 'DENIED';
  if (status === 404) return 'NAME_UNKNOWN';
  if (status === 503) return 'UNAVAILABLE';
  return 'UNKNOWN';
}

/**
 * A plain-HTTP reverse proxy on a free loopback port in front of `target` (a registry url, or the
 * RegistryServer itself so an https target's CA is trusted). Host is rewritten to the target, and
 * absolute Location headers pointing at the target are rewritten to the proxy, so clients keep
 * talking to the proxy. Bodies stream both ways; faulted responses with no Content-Length are
 * buffered first so "half of the body" is defined.
 */
export async function startProxy(target: string | RegistryServer, opts: { ca?: string } = {}): Promise<ProxyServer> {
  const targetUrl = new URL(typeof target === 'string' ? target : target.url);
  const ca = opts.ca ?? (typeof target !== 'string' && target.caPath ? readFileSync(target.caPath, 'utf8') : undefined);
  const upstreamHttps = targetUrl.protocol === 'https:';
  const agent = upstreamHttps ? new https.Agent({ keepAlive: true, ca }) : new http.Agent({ keepAlive: true });
  const requests: ProxyRequest[] = [];
  let rules: FaultRule[] = [];
  let proxyOrigin = '';

  const takeFault = (method: string, p: string): Fault | undefined => {
    const i = rules.findIndex((r) => r.times > 0 && (!r.method || r.method.toUpperCase() === method) && (!r.path || r.path.test(p)));
    if (i < 0) return undefined;
    const rule = rules[i]!;
    rule.times--;
    if (rule.times <= 0) rules.splice(i, 1);
    return rule.fault;
  };

  const server = http.createServer((req, res) => {
    const method = (req.method ?? 'GET').toUpperCase();
    const rec: ProxyRequest = { method, path: req.url ?? '/', status: 0, bytesIn: 0, bytesOut: 0 };
    requests.push(rec);
    req.on('data', (d: Buffer) => (rec.bytesIn += d.length));
    const fault = takeFault(method, rec.path);
    if (fault) rec.fault = fault.kind;

    if (fault?.kind === 'status') {
      // Read the whole request body first so the client is not cut off mid-upload.
      req.resume();
      req.on('end', () => {
        const body = method === 'HEAD' ? '' : JSON.stringify({ errors: [{ code: errorCodeFor(fault.status), message: 'fault injected by test proxy', detail: null }] });
        rec.status = fault.status;
        res.writeHead(fault.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...fault.headers });
        rec.bytesOut += Buffer.byteLength(body);
        res.end(body);
      });
      return;
    }

    const forward = (): void => {
      if (res.destroyed) return;
      const headers: http.OutgoingHttpHeaders = { ...req.headers, host: targetUrl.host };
      for (const h of HOP_BY_HOP) delete headers[h];
      const upstream = (upstreamHttps ? https : http).request({
        hostname: targetUrl.hostname,
        port: targetUrl.port,
        method,
        path: req.url,
        headers,
        agent,
      });
      req.pipe(upstream);
      req.on('error', () => upstream.destroy());
      res.on('close', () => {
        if (!res.writableFinished) upstream.destroy();
      });
      upstream.on('error', (err) => {
        if (!res.headersSent) {
          rec.status = 502;
          const body = JSON.stringify({ errors: [{ code: 'UNKNOWN', message: `test proxy: upstream error: ${err.message}` }] });
          res.writeHead(502, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
          res.end(body);
        } else {
          res.destroy();
        }
      });
      upstream.on('response', (ures) => {
        const out: http.OutgoingHttpHeaders = { ...ures.headers };
        for (const h of [...HOP_BY_HOP, 'transfer-encoding']) delete out[h];
        const loc = ures.headers.location;
        if (loc && loc.startsWith(targetUrl.origin)) out.location = proxyOrigin + loc.slice(targetUrl.origin.length);
        const status = ures.statusCode ?? 502;
        const bodyless = method === 'HEAD' || status === 204 || status === 304;

        if (!fault || fault.kind === 'delay' || (fault.kind === 'corrupt' && bodyless)) {
          rec.status = status;
          res.writeHead(status, out);
          ures.on('data', (d: Buffer) => (rec.bytesOut += d.length));
          ures.pipe(res);
          return;
        }
        if (bodyless) {
          // A bodiless answer (HEAD, 204) has no "half of the body": cut before the status line,
          // so the client sees a failed request (curl: 56 for reset, 52 "empty reply" for truncate).
          ures.resume();
          cut(res, fault.kind === 'reset');
          return;
        }
        const withLength = (len: number, source: AsyncIterable<Buffer>): void => {
          out['content-length'] = String(len);
          rec.status = status;
          res.writeHead(status, out);
          res.flushHeaders();
          void applyBodyFault(fault.kind as 'reset' | 'truncate' | 'corrupt', len, source, res, rec);
        };
        const cl = ures.headers['content-length'];
        if (cl !== undefined && /^\d+$/.test(cl)) {
          withLength(Number(cl), ures);
        } else {
          // Unknown length (chunked): buffer, then fault against the real length.
          const chunks: Buffer[] = [];
          ures.on('data', (d: Buffer) => chunks.push(d));
          ures.on('end', () => {
            const all = Buffer.concat(chunks);
            withLength(all.length, (async function* () { yield all; })());
          });
        }
      });
    };

    if (fault?.kind === 'delay') {
      const timer = setTimeout(forward, fault.ms);
      res.on('close', () => clearTimeout(timer));
    } else {
      forward();
    }
  });

  const port = await listenLoopback(server);
  proxyOrigin = `http://${LOOPBACK}:${port}`;
  let stopped: Promise<void> | undefined;
  return {
    host: `${LOOPBACK}:${port}`,
    url: proxyOrigin,
    requests,
    addFaults: (...newRules) => {
      rules.push(...newRules.map((r) => ({ ...r })));
    },
    clear: () => {
      requests.length = 0;
      rules = [];
    },
    stop: () =>
      (stopped ??= (async () => {
        await closeServer(server);
        agent.destroy();
      })()),
  };
}

/** Ends the client connection: RST (reset) or FIN (truncate), after what was written reached the kernel. */
function cut(res: http.ServerResponse, reset: boolean): void {
  const sock = res.socket;
  if (!sock) return;
  // The write callback only means "handed to the kernel"; give loopback a moment to deliver it,
  // because an RST discards data still queued in the send buffer.
  const go = (): void => {
    if (reset) sock.resetAndDestroy();
    else {
      sock.end();
      setTimeout(() => sock.destroy(), 1000).unref();
    }
  };
  sock.write('', () => setTimeout(go, 30));
}

/** Resolves on 'drain', or on 'close' so a vanished client cannot leave us waiting forever. */
function drained(res: http.ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

async function applyBodyFault(
  kind: 'reset' | 'truncate' | 'corrupt',
  len: number,
  source: AsyncIterable<Buffer>,
  res: http.ServerResponse,
  rec: ProxyRequest,
): Promise<void> {
  const mid = Math.floor(len / 2);
  let offset = 0;
  try {
    if (kind === 'corrupt') {
      for await (const chunk of source) {
        let c = chunk;
        if (mid >= offset && mid < offset + c.length) {
          c = Buffer.from(c); // never mutate a buffer someone else may hold
          c[mid - offset] = c[mid - offset]! ^ 0xff;
        }
        offset += c.length;
        rec.bytesOut += c.length;
        if (!res.write(c)) await drained(res);
      }
      res.end();
      return;
    }
    // reset / truncate: send the first half of the body, then cut the connection.
    if (mid > 0) {
      for await (const chunk of source) {
        const take = Math.min(chunk.length, mid - offset);
        const part = chunk.subarray(0, take);
        offset += take;
        rec.bytesOut += take;
        if (!res.write(part)) await drained(res);
        if (offset >= mid) break; // leaving the loop destroys the upstream response
      }
    } else if ('destroy' in source && typeof source.destroy === 'function') {
      (source as { destroy(): void }).destroy();
    }
    cut(res, kind === 'reset');
  } catch {
    res.destroy();
  }
}

// ---------------------------------------------------------------------------------------------
// A tiny OCI image to push

export interface TestImage {
  /** The OCI image layout directory. */
  dir: string;
  /** `oci:DIR:TAG`, for skopeo. */
  ref: string;
  manifestDigest: string;
  configDigest: string;
  layerDigest: string;
  /** Size in bytes of the (gzipped) layer blob. */
  layerSize: number;
}

/** One ustar entry (regular file, mode 0644, mtime 0) — enough for a tiny layer. */
export function tarFile(name: string, content: Buffer): Buffer {
  const header = Buffer.alloc(512);
  const field = (value: string, offset: number, length: number): void => void header.write(value, offset, length, 'ascii');
  const octal = (n: number, length: number): string => n.toString(8).padStart(length - 1, '0') + '\0';
  field(name, 0, 100);
  field(octal(0o644, 8), 100, 8);
  field(octal(0, 8), 108, 8);
  field(octal(0, 8), 116, 8);
  field(octal(content.length, 12), 124, 12);
  field(octal(0, 12), 136, 12);
  field('        ', 148, 8); // checksum is computed with its own field as spaces
  field('0', 156, 1);
  field('ustar\0', 257, 6);
  field('00', 263, 2);
  let sum = 0;
  for (const b of header) sum += b;
  field(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8);
  const padded = Buffer.alloc(Math.ceil(content.length / 512) * 512);
  content.copy(padded);
  return Buffer.concat([header, padded]);
}

/**
 * Writes a single-layer OCI image layout (one file `/hello.txt` holding `content`, or the tar
 * `layerTar` as it is, for a damaged layer) into `dir` (default: a temp dir removed at process
 * exit). Distinct `content` gives distinct digests.
 */
export function writeTestImage(opts: { dir?: string; tag?: string; content?: string; layerTar?: Buffer } = {}): TestImage {
  const dir = opts.dir ?? tempDir('tsbuild-regtest-image-');
  const tag = opts.tag ?? 'latest';
  const blobs = path.join(dir, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  const put = (data: Buffer): { digest: string; size: number } => {
    const hex = createHash('sha256').update(data).digest('hex');
    writeFileSync(path.join(blobs, hex), data);
    return { digest: `sha256:${hex}`, size: data.length };
  };
  const tar = opts.layerTar ?? Buffer.concat([tarFile('hello.txt', Buffer.from(opts.content ?? 'hello from tsbuild tests\n')), Buffer.alloc(1024)]);
  const diffId = `sha256:${createHash('sha256').update(tar).digest('hex')}`;
  const layer = put(gzipSync(tar));
  const config = put(
    Buffer.from(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        config: {},
        rootfs: { type: 'layers', diff_ids: [diffId] },
      }),
    ),
  );
  const manifest = put(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...layer }],
      }),
    ),
  );
  writeFileSync(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(
    path.join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, annotations: { 'org.opencontainers.image.ref.name': tag } }],
    }),
  );
  return { dir, ref: `oci:${dir}:${tag}`, manifestDigest: manifest.digest, configDigest: config.digest, layerDigest: layer.digest, layerSize: layer.size };
}
