// Registry credentials where docker keeps them: $DOCKER_CONFIG/config.json (default ~/.docker):
// `credHelpers[host]`, then `credsStore`, then `auths[host].auth` (base64 user:pass) or
// `identitytoken`. Helpers speak docker's credential-helper protocol over stdin/stdout.
import { TsbuildError } from '../../common/errors.js';
import { spawn } from 'node:child_process';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export type Credentials = { username: string; password: string; identityToken?: undefined } | { identityToken: string; username?: string; password?: undefined };

interface DockerConfig {
  auths?: Record<string, { auth?: string; identitytoken?: string; username?: string; password?: string }>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
  [k: string]: unknown;
}

export class CredentialHelperError extends TsbuildError {
  constructor(helper: string, detail: string) {
    super('TSB_REGISTRY_AUTH', `credential helper docker-credential-${helper} failed: ${detail}`, { hint: `check that docker-credential-${helper} is installed and works` });
  }
}

const DOCKER_HUB_KEY = 'https://index.docker.io/v1/';

/** Docker Hub's credentials live under its legacy v1 URL; everyone else under the host. */
export function serverKey(host: string): string {
  return host === 'docker.io' || host === 'index.docker.io' || host === 'registry-1.docker.io' ? DOCKER_HUB_KEY : host;
}

/** config.json keys may carry a scheme and a /v1/ or /v2/ path: compare by bare host. */
function bareHost(key: string): string {
  return key.replace(/^https?:\/\//, '').replace(/\/(v1|v2)\/?$/, '').replace(/\/$/, '');
}

function sameRegistry(key: string, host: string): boolean {
  const k = bareHost(key);
  const h = bareHost(serverKey(host));
  return k === h || (h === 'index.docker.io' && ['docker.io', 'registry-1.docker.io'].includes(k));
}

function runHelper(helper: string, action: 'get' | 'store' | 'erase', input: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(`docker-credential-${helper}`, [action], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', (e) => reject(new CredentialHelperError(helper, (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'not installed (not on PATH)' : e.message)));
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new CredentialHelperError(helper, (out || err).trim() || `exit code ${code}`))));
    child.stdin.end(input);
  });
}

export class CredentialStore {
  readonly file: string;

  constructor(configDir: string = process.env.DOCKER_CONFIG ?? path.join(os.homedir(), '.docker')) {
    this.file = path.join(configDir, 'config.json');
  }

  private async read(): Promise<DockerConfig> {
    try {
      return JSON.parse(await readFile(this.file, 'utf8')) as DockerConfig;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw new Error(`cannot read ${this.file}: ${(e as Error).message}`);
    }
  }

  private async write(cfg: DockerConfig): Promise<void> {
    await mkdir(path.dirname(this.file), { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.tmp-${process.pid}`;
    await writeFile(tmp, `${JSON.stringify(cfg, null, '\t')}\n`, { mode: 0o600 });
    await rename(tmp, this.file);
  }

  private helperFor(cfg: DockerConfig, host: string): string | undefined {
    const byHost = Object.entries(cfg.credHelpers ?? {}).find(([k]) => sameRegistry(k, host));
    return byHost?.[1] ?? cfg.credsStore;
  }

  async get(host: string): Promise<Credentials | undefined> {
    const cfg = await this.read();
    const helper = this.helperFor(cfg, host);
    if (helper) {
      let out: string;
      try {
        out = await runHelper(helper, 'get', serverKey(host));
      } catch (e) {
        // "credentials not found" is the protocol's way of saying: anonymous.
        if (/not found/i.test((e as Error).message)) return undefined;
        throw e;
      }
      const r = JSON.parse(out) as { Username?: string; Secret?: string };
      if (!r.Secret) return undefined;
      return r.Username === '<token>' ? { identityToken: r.Secret } : { username: r.Username ?? '', password: r.Secret };
    }
    const entry = Object.entries(cfg.auths ?? {}).find(([k]) => sameRegistry(k, host))?.[1];
    if (!entry) return undefined;
    if (entry.identitytoken) return { identityToken: entry.identitytoken };
    if (entry.auth) {
      const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon < 0) return undefined;
      return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
    }
    if (entry.username && entry.password) return { username: entry.username, password: entry.password };
    return undefined;
  }

  /** Saves credentials where docker would: the host's helper if configured, else config.json. */
  async store(host: string, username: string, password: string): Promise<string> {
    const cfg = await this.read();
    const helper = this.helperFor(cfg, host);
    if (helper) {
      await runHelper(helper, 'store', JSON.stringify({ ServerURL: serverKey(host), Username: username, Secret: password }));
      cfg.auths = { ...(cfg.auths ?? {}), [serverKey(host)]: {} };
      await this.write(cfg);
      return `docker-credential-${helper}`;
    }
    cfg.auths = { ...(cfg.auths ?? {}) };
    for (const k of Object.keys(cfg.auths)) if (sameRegistry(k, host)) delete cfg.auths[k];
    cfg.auths[serverKey(host)] = { auth: Buffer.from(`${username}:${password}`).toString('base64') };
    await this.write(cfg);
    return this.file;
  }

  async erase(host: string): Promise<boolean> {
    const cfg = await this.read();
    const helper = this.helperFor(cfg, host);
    if (helper) await runHelper(helper, 'erase', serverKey(host)).catch(() => undefined);
    const keys = Object.keys(cfg.auths ?? {}).filter((k) => sameRegistry(k, host));
    for (const k of keys) delete cfg.auths![k];
    if (keys.length) await this.write(cfg);
    return keys.length > 0 || helper !== undefined;
  }
}
