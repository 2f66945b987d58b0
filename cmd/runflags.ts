// buildx's flags for every RUN of a build: --network, --add-host, --shm-size, --ulimit, parsed as docker
// spells them into the engine's ExecDefaults. A bad value is a usage error naming the flag, the value
// and the form expected.
import { isIP } from 'node:net';
import { parseByteSize } from '../common/bytesize.js';
import { UsageError } from '../common/errors.js';
import type { ExecDefaults, ExtraHost, Ulimit } from '../builder/engine.js';

const NETWORKS = ['default', 'none', 'host'] as const;

/** docker's --ulimit names (go-units), each a setrlimit resource. */
export const ULIMIT_NAMES = ['core', 'cpu', 'data', 'fsize', 'locks', 'memlock', 'msgqueue', 'nice', 'nofile', 'nproc', 'rss', 'rtprio', 'rttime', 'sigpending', 'stack'];

export function parseNetwork(v: string): NonNullable<ExecDefaults['network']> {
  const n = NETWORKS.find((x) => x === v);
  if (!n) throw new UsageError(`--network "${v}": not a network mode`, 'use --network=default, none or host (tsbuild has no other networks)');
  return n;
}

/** `HOST:IP` (docker) or `HOST=IP` (buildx, for IPv6 addresses). */
export function parseAddHost(v: string): ExtraHost {
  const eq = v.indexOf('=');
  const sep = eq >= 0 ? eq : v.indexOf(':');
  const host = sep < 0 ? '' : v.slice(0, sep);
  const ip = sep < 0 ? '' : v.slice(sep + 1).replace(/^\[(.*)\]$/, '$1');
  const form = 'use --add-host HOST:IP, e.g. --add-host db.internal:10.0.0.5 (or HOST=IP for IPv6)';
  if (!host || /\s/.test(host)) throw new UsageError(`--add-host "${v}": needs a host name and an IP address`, form);
  if (ip === 'host-gateway') throw new UsageError(`--add-host "${v}": tsbuild has no host gateway (RUN uses the host's network by default)`, 'give the IP address itself, e.g. --add-host db.internal:127.0.0.1');
  if (isIP(ip) === 0) throw new UsageError(`--add-host "${v}": "${ip}" is not an IP address`, form);
  return { host, ip };
}

export function parseShmSize(v: string): number {
  const bytes = parseByteSize(v);
  if (!bytes) throw new UsageError(`--shm-size "${v}": not a size`, 'use bytes or a size with a unit, e.g. --shm-size 128m or --shm-size 1g');
  return bytes;
}

function limit(v: string, spec: string): number {
  if (!/^(-1|\d+)$/.test(v) || !Number.isSafeInteger(Number(v))) throw new UsageError(`--ulimit "${spec}": "${v}" is not a limit`, 'limits are whole numbers, or -1 for unlimited, e.g. --ulimit nofile=1024:2048');
  return Number(v);
}

/** `TYPE=SOFT[:HARD]`; HARD defaults to SOFT, as docker's. */
export function parseUlimit(spec: string): Ulimit {
  const eq = spec.indexOf('=');
  const name = eq < 0 ? spec : spec.slice(0, eq);
  if (eq < 0 || !ULIMIT_NAMES.includes(name)) {
    throw new UsageError(`--ulimit "${spec}": ${eq < 0 ? 'needs TYPE=SOFT[:HARD]' : `unknown limit "${name}"`}`, `use --ulimit TYPE=SOFT[:HARD], TYPE one of ${ULIMIT_NAMES.join(', ')}; e.g. --ulimit nofile=1024:2048`);
  }
  const [softText, hardText, ...rest] = spec.slice(eq + 1).split(':');
  if (rest.length) throw new UsageError(`--ulimit "${spec}": too many values`, 'use --ulimit TYPE=SOFT[:HARD], e.g. --ulimit nofile=1024:2048');
  const soft = limit(softText!, spec);
  const hard = hardText === undefined ? soft : limit(hardText, spec);
  const unlimited = (n: number) => (n === -1 ? Infinity : n);
  if (unlimited(soft) > unlimited(hard)) throw new UsageError(`--ulimit "${spec}": the soft limit is above the hard limit`, 'the soft limit must be less than or equal to the hard limit, e.g. --ulimit nofile=1024:2048');
  return { name, soft, hard };
}

/** The build's settings of every RUN; a repeated --ulimit of one type keeps the last, as docker's. */
export function execDefaults(a: { network?: string; 'add-host'?: string[]; 'shm-size'?: string; ulimit?: string[] }): ExecDefaults {
  const ulimits = new Map((a.ulimit ?? []).map(parseUlimit).map((u) => [u.name, u]));
  const hosts = (a['add-host'] ?? []).flatMap((v) => v.split(',')).map(parseAddHost);
  return {
    ...(a.network !== undefined ? { network: parseNetwork(a.network) } : {}),
    ...(hosts.length ? { extraHosts: hosts } : {}),
    ...(a['shm-size'] !== undefined ? { shmSize: parseShmSize(a['shm-size']) } : {}),
    ...(ulimits.size ? { ulimits: [...ulimits.values()].sort((x, y) => (x.name < y.name ? -1 : 1)) } : {}),
  };
}
