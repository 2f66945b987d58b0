// HTTP to one registry: picks https (plain http only for loopback or --insecure-registry hosts),
// answers auth challenges (Basic; Bearer with a token cache per scope set), and retries 5xx, 429
// (honouring Retry-After) and dropped connections with exponential backoff. Credentials are only
// ever sent to the registry and its token realm, and never appear in errors or logs.
import { readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { rootCertificates } from 'node:tls';
import type { Agent, Dispatcher } from 'undici';

// undici is loaded on first use: most builds never talk to a registry, and loading it costs start-up time.
let undici: Promise<typeof import('undici')> | undefined;
// undici is CommonJS: bundled, its exports arrive on the namespace's default.
const http = (): Promise<typeof import('undici')> =>
  (undici ??= import('undici').then((m) => ((m as { default?: typeof import('undici') }).default ?? m) as typeof import('undici')));
type Request = typeof import('undici')['request'];
async function request(...args: Parameters<Request>): Promise<Dispatcher.ResponseData> {
  return (await (await http()).request(...args)) as Dispatcher.ResponseData;
}
import { parseChallenges, type Challenge } from './challenge.js';
import type { CredentialStore, Credentials } from './credentials.js';
import { AuthError, describeErrorBody, RegistryError } from './errors.js';

export interface TransportOptions {
  credentials: CredentialStore;
  /** Hosts that may use plain HTTP or unverified TLS (`--insecure-registry`). */
  insecureRegistries?: readonly string[];
  /** Extra CA certificates (PEM file) to trust besides the system's. */
  caFile?: string;
  /** Attempts for a retryable failure (default 6). */
  attempts?: number;
  /** First backoff delay in ms (default 250), doubled each retry, capped at 10 s. */
  backoffMs?: number;
  signal?: AbortSignal;
}

export interface RegistryResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Dispatcher.ResponseData['body'];
}

export interface RegistryRequest {
  method: 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';
  /** A path under the registry root (`/v2/...`) or an absolute URL (upload Locations). */
  path: string;
  headers?: Record<string, string>;
  /** A factory, so a retry can send the body again. */
  body?: () => Buffer | Readable;
  /** Token scopes this request needs, e.g. `repository:team/app:pull,push`. */
  scopes: string[];
  /** Retry dropped connections and 5xx here (default). Off for upload steps, which restart whole. */
  retry?: boolean;
}

const RETRYABLE_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'EAI_AGAIN']);

export function isLoopback(host: string): boolean {
  const h = host.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

/** Docker Hub's API lives on another host than its name. */
export function apiHost(host: string): string {
  return host === 'docker.io' || host === 'index.docker.io' ? 'registry-1.docker.io' : host;
}

function header(h: RegistryResponse['headers'], name: string): string | undefined {
  const v = h[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

export { header as responseHeader };

export function retryDelay(attempt: number, base: number, retryAfter?: string): number {
  if (retryAfter) {
    const secs = Number(retryAfter);
    if (Number.isFinite(secs)) return Math.min(secs * 1000, 60_000);
    const date = Date.parse(retryAfter);
    if (Number.isFinite(date)) return Math.max(0, Math.min(date - Date.now(), 60_000));
  }
  const exp = Math.min(base * 2 ** attempt, 10_000);
  return exp / 2 + Math.random() * (exp / 2);
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      reject(signal.reason);
    }, { once: true });
  });
}

interface Token {
  value: string;
  expires: number;
}

export class RegistryTransport {
  private base?: Promise<string>;
  private challenge?: Challenge;
  private creds?: Promise<Credentials | undefined>;
  private readonly tokens = new Map<string, Token>();
  private agent?: Promise<Agent>;
  private readonly insecure: boolean;

  constructor(readonly host: string, private readonly o: TransportOptions) {
    this.insecure = (o.insecureRegistries ?? []).includes(host);
    const ca = o.caFile ? [...rootCertificates, readFileSync(o.caFile, 'utf8')] : undefined;
    this.ca = ca;
  }

  private readonly ca: string[] | undefined;

  /** One connection pool per registry, with its TLS settings. */
  private dispatcher(): Promise<Agent> {
    this.agent ??= http().then((u) => new u.Agent({ connect: { ca: this.ca, rejectUnauthorized: !this.insecure }, keepAliveTimeout: 30_000 }));
    return this.agent;
  }

  async close(): Promise<void> {
    if (this.agent) await (await this.agent).close();
  }

  private credentials(): Promise<Credentials | undefined> {
    this.creds ??= this.o.credentials.get(this.host);
    return this.creds;
  }

  /** https, unless the host may use http and https does not answer there. */
  private resolveBase(): Promise<string> {
    this.base ??= (async () => {
      const api = apiHost(this.host);
      const mayHttp = this.insecure || isLoopback(this.host);
      let httpsError: unknown;
      try {
        await this.ping(`https://${api}`);
        return `https://${api}`;
      } catch (e) {
        if (!mayHttp || e instanceof RegistryError) throw e;
        httpsError = e;
      }
      try {
        await this.ping(`http://${api}`);
      } catch {
        // Neither works: the https failure (often an untrusted certificate) is the useful one.
        const err = httpsError as NodeJS.ErrnoException;
        throw new RegistryError(`cannot reach ${this.host}: ${err.message}`, this.host, undefined, err.code, /CERT|SELF_SIGNED|UNABLE_TO_VERIFY/.test(err.code ?? '') ? `trust its CA with --registry-ca FILE, or pass --insecure-registry ${this.host}` : 'is the registry running?');
      }
      return `http://${api}`;
    })();
    return this.base;
  }

  private async ping(base: string): Promise<void> {
    let res: Dispatcher.ResponseData;
    try {
      res = await request(`${base}/v2/`, { method: 'GET', dispatcher: await this.dispatcher(), signal: this.o.signal });
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (base.startsWith('https:') && !this.insecure && !isLoopback(this.host)) {
        const tlsProblem = /EPROTO|ERR_SSL|CERT|SELF_SIGNED|UNABLE_TO_VERIFY/.test(`${err.code} ${err.message}`);
        throw new RegistryError(`cannot reach ${this.host} over https: ${err.message}`, this.host, undefined, err.code, tlsProblem ? `for a registry without valid TLS pass --insecure-registry ${this.host}, or trust its CA with --registry-ca FILE` : 'check the registry name and the network connection');
      }
      throw e;
    }
    const text = await res.body.text();
    if (res.statusCode === 401) {
      const c = header(res.headers, 'www-authenticate');
      this.challenge = c ? parseChallenges(c)[0] : undefined;
      return;
    }
    if (res.statusCode >= 200 && res.statusCode < 300) return;
    throw new RegistryError(`${this.host} is not a container registry: GET /v2/ answered ${res.statusCode} ${describeErrorBody(text).text}`, this.host, res.statusCode);
  }

  /** Sends a request, handling auth and retries. The caller must consume or dump the body. */
  async send(req: RegistryRequest): Promise<RegistryResponse> {
    const base = await this.resolveBase();
    const attempts = req.retry === false ? 1 : this.o.attempts ?? 6;
    let reauthed = false;
    for (let attempt = 0; ; attempt++) {
      const url = req.path.startsWith('http') ? req.path : `${base}${req.path}`;
      const headers: Record<string, string> = { ...req.headers };
      const auth = await this.authorization(req.scopes, false);
      // Credentials go only to the registry itself (a blob may redirect to storage elsewhere).
      if (auth && new URL(url).host === new URL(base).host) headers.authorization = auth;
      let res: Dispatcher.ResponseData;
      try {
        res = await request(url, { method: req.method, headers, body: req.body?.(), dispatcher: await this.dispatcher(), signal: this.o.signal });
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code ?? '';
        if (RETRYABLE_CODES.has(code) && attempt + 1 < attempts) {
          await sleep(retryDelay(attempt, this.o.backoffMs ?? 250), this.o.signal);
          continue;
        }
        throw new RegistryError(`${req.method} ${this.host}: ${(e as Error).message}${attempt > 0 ? ` (after ${attempt + 1} attempts)` : ''}`, this.host, undefined, code);
      }
      const status = res.statusCode;
      if (status === 401 && !reauthed) {
        await res.body.dump();
        reauthed = true;
        const c = header(res.headers, 'www-authenticate');
        if (c) this.challenge = parseChallenges(c)[0];
        // A fresh token, with the scope the registry asked for as well.
        const extra = this.challenge?.params.scope ? [this.challenge.params.scope] : [];
        await this.authorization([...req.scopes, ...extra], true);
        if (!this.challenge) throw new AuthError(this.host, 'the registry refused the request and sent no challenge');
        attempt--;
        continue;
      }
      if ((status === 429 || status >= 500) && attempt + 1 < attempts) {
        await res.body.dump();
        await sleep(retryDelay(attempt, this.o.backoffMs ?? 250, header(res.headers, 'retry-after')), this.o.signal);
        continue;
      }
      if (status === 401 || status === 403) {
        const { text } = describeErrorBody(await res.body.text());
        const creds = await this.credentials();
        if (!creds) throw new AuthError(this.host, `the registry requires authentication (${text || status})`, `log in first: tsbuild login ${this.host}`);
        // With Basic auth a 401 can only mean the credentials are wrong; a 403 means they lack access.
        if (status === 401 && this.challenge?.scheme === 'basic') throw new AuthError(this.host, 'incorrect username or password', `tsbuild login ${this.host} with valid credentials`);
        throw new AuthError(this.host, `access denied (${text || status})`, `the credentials for ${this.host} lack access to this repository`);
      }
      return { status, headers: res.headers, body: res.body };
    }
  }

  /** The Authorization header for these scopes, fetching a token if the registry wants one. */
  private async authorization(scopes: string[], refresh: boolean): Promise<string | undefined> {
    const c = this.challenge;
    if (!c) return undefined;
    const creds = await this.credentials();
    if (c.scheme === 'basic') {
      if (!creds || creds.identityToken) return undefined;
      return `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
    }
    if (c.scheme !== 'bearer') return undefined;
    const key = [...new Set(scopes)].sort().join(' ');
    const cached = this.tokens.get(key);
    if (cached && !refresh && cached.expires > Date.now()) return `Bearer ${cached.value}`;
    const token = await this.fetchToken(c, [...new Set(scopes)].sort(), creds);
    this.tokens.set(key, token);
    return `Bearer ${token.value}`;
  }

  private async fetchToken(c: Challenge, scopes: string[], creds: Credentials | undefined): Promise<Token> {
    const realm = c.params.realm;
    if (!realm) throw new AuthError(this.host, 'the Bearer challenge has no realm');
    const service = c.params.service;
    let res: Dispatcher.ResponseData;
    try {
      if (creds?.identityToken) {
        // OAuth2 refresh-token grant, as docker does with identity tokens.
        const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: creds.identityToken, client_id: 'tsbuild', scope: scopes.join(' ') });
        if (service) form.set('service', service);
        res = await request(realm, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString(), dispatcher: await this.dispatcher(), signal: this.o.signal });
      } else {
        const url = new URL(realm);
        if (service) url.searchParams.set('service', service);
        for (const s of scopes) url.searchParams.append('scope', s);
        const headers: Record<string, string> = {};
        if (creds?.username !== undefined && creds.password !== undefined) {
          url.searchParams.set('account', creds.username);
          headers.authorization = `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
        }
        res = await request(url, { method: 'GET', headers, dispatcher: await this.dispatcher(), signal: this.o.signal });
      }
    } catch (e) {
      throw new AuthError(this.host, `token service ${new URL(realm).host} unreachable: ${(e as Error).message}`, 'check the network; the registry delegates logins to that service');
    }
    const text = await res.body.text();
    if (res.statusCode === 401 || res.statusCode === 403) {
      throw new AuthError(this.host, creds ? 'incorrect username or password' : 'anonymous access was refused', creds ? `tsbuild login ${this.host} with valid credentials` : `log in first: tsbuild login ${this.host}`);
    }
    if (res.statusCode !== 200) throw new AuthError(this.host, `token service answered ${res.statusCode}: ${describeErrorBody(text).text}`);
    const body = JSON.parse(text) as { token?: string; access_token?: string; expires_in?: number };
    const value = body.token ?? body.access_token;
    if (!value) throw new AuthError(this.host, 'token service sent no token');
    // Renew a little early; 60 s is the spec's default lifetime.
    return { value, expires: Date.now() + Math.max(10, (body.expires_in ?? 60) - 10) * 1000 };
  }
}

