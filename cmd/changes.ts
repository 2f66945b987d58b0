// `tsbuild import --change`: the few config settings docker import takes, as Dockerfile-like lines.
import { UsageError } from '../common/errors.js';
import type { RunConfig } from '../common/oci.js';

/** `ENV K=V`, `CMD ["x"]` (or shell form), `ENTRYPOINT`, `WORKDIR`, `USER`, `LABEL K=V`, `EXPOSE P`. */
export function applyChange(config: RunConfig, change: string): void {
  const m = /^\s*(\w+)\s+([\s\S]*)$/.exec(change);
  if (!m) throw new UsageError(`invalid --change "${change}"`, 'e.g. --change \'ENV PATH=/bin\' --change \'CMD ["/bin/sh"]\'');
  const [word, rest] = [m[1]!.toUpperCase(), m[2]!.trim()];
  const argv = (): string[] => {
    try {
      const v: unknown = JSON.parse(rest);
      if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
    } catch {
      // shell form
    }
    return ['/bin/sh', '-c', rest];
  };
  const pair = (): [string, string] => {
    const eq = rest.indexOf('=');
    if (eq <= 0) throw new UsageError(`--change "${change}" needs KEY=VALUE`);
    return [rest.slice(0, eq), rest.slice(eq + 1)];
  };
  switch (word) {
    case 'ENV': {
      const [k, v] = pair();
      config.Env = [...(config.Env ?? []).filter((e) => !e.startsWith(`${k}=`)), `${k}=${v}`];
      break;
    }
    case 'LABEL': {
      const [k, v] = pair();
      config.Labels = { ...(config.Labels ?? {}), [k]: v };
      break;
    }
    case 'CMD':
      config.Cmd = argv();
      break;
    case 'ENTRYPOINT':
      config.Entrypoint = argv();
      break;
    case 'WORKDIR':
      config.WorkingDir = rest;
      break;
    case 'USER':
      config.User = rest;
      break;
    case 'EXPOSE':
      config.ExposedPorts = { ...(config.ExposedPorts ?? {}), [rest.includes('/') ? rest : `${rest}/tcp`]: {} };
      break;
    default:
      throw new UsageError(`--change does not take ${word}`, 'it takes ENV, LABEL, CMD, ENTRYPOINT, WORKDIR, USER and EXPOSE');
  }
}

export function importConfig(changes: readonly string[]): RunConfig {
  const config: RunConfig = {};
  for (const c of changes) applyChange(config, c);
  return config;
}
