// RUN --mount: the spec is split into fields once, when the instruction is parsed (its from= names a
// stage or an image, so it must be known before any stage runs); the values are expanded and turned
// into a typed ExecMount when the RUN is dispatched.
import path from 'node:path/posix';
import type { ExecMount } from '../builder/graph.js';
import type { SourceLocation } from '../common/errors.js';
import { DockerfileError } from './errors.js';
import { parseByteSize } from '../common/bytesize.js';

export interface MountSpec {
  /** Keys lower-cased, values as written (a bare key reads as =true). */
  fields: ReadonlyMap<string, string>;
  /** from=, literal as BuildKit takes it: a stage name or index, or an image. */
  from?: string;
}

const KEYS = ['type', 'target', 'dst', 'destination', 'source', 'src', 'from', 'id', 'sharing', 'mode', 'uid', 'gid', 'required', 'ro', 'readonly', 'rw', 'readwrite', 'size', 'env'];

/** Comma-separated fields, where a field may be double-quoted to contain commas (as Go's csv reader). */
function splitCSV(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '"') {
      if (quoted && s[i + 1] === '"') {
        cur += '"';
        i++;
      } else quoted = !quoted;
    } else if (c === ',' && !quoted) {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out.filter((f) => f !== '');
}

/** Splits one --mount value of the RUN at `location`. */
export function parseMount(spec: string, location: SourceLocation): MountSpec {
  const fail = (message: string, hint: string): never => {
    throw new DockerfileError('TSB_DOCKERFILE_INVALID', message, { location, hint });
  };
  const fields = new Map<string, string>();
  for (const part of splitCSV(spec)) {
    const eq = part.indexOf('=');
    const key = (eq < 0 ? part : part.slice(0, eq)).trim().toLowerCase();
    if (!KEYS.includes(key)) fail(`unexpected key '${key}' in '${part}' for --mount`, `--mount takes ${KEYS.join(', ')}`);
    fields.set(key, eq < 0 ? 'true' : part.slice(eq + 1));
  }
  const from = fields.get('from');
  if (from !== undefined && from.includes('$')) fail("'from' doesn't support variable expansion, define alias stage instead", 'add a stage `FROM ${IMAGE} AS src` (global ARGs expand in FROM) and mount from=src');
  return { fields, ...(from !== undefined ? { from } : {}) };
}

/** What a dispatched RUN hands the conversion of its mounts. */
export interface MountContext {
  /** The field's value with the stage's ARG/ENV expanded. */
  expand(value: string): string;
  fail(message: string, hint: string): never;
  /** The input index of from= (or of the build context when `defaultContext`); undefined without either. */
  input(from: string | undefined, defaultContext: boolean): number | undefined;
  /** Relative targets are relative to the working directory. */
  cwd: string;
  /** Numbers default ssh socket paths within one RUN (/run/buildkit/ssh_agent.N). */
  sshIndex: number;
}

/** One --mount as the executor takes it. */
export function execMount(spec: MountSpec, ctx: MountContext): ExecMount {
  const fields = new Map<string, string>();
  for (const [k, v] of spec.fields) fields.set(k, k === 'from' ? v : ctx.expand(v));
  const type = fields.get('type') ?? 'bind';
  const rawTarget = fields.get('target') ?? fields.get('dst') ?? fields.get('destination');
  const target = rawTarget && !rawTarget.startsWith('/') ? path.resolve(ctx.cwd, rawTarget) : rawTarget;
  const bool = (k: string): boolean | undefined => {
    const v = fields.get(k);
    if (v === undefined) return undefined;
    if (!/^(true|false|1|0)$/i.test(v)) ctx.fail(`invalid value "${v}" for ${k} in --mount`, 'use true or false');
    return /^(true|1)$/i.test(v);
  };
  const num = (k: string, def: number, base = 10): number => {
    const v = fields.get(k);
    if (v === undefined) return def;
    const x = parseInt(v, base);
    if (!/^\d+$/.test(v) || Number.isNaN(x)) ctx.fail(`invalid value "${v}" for ${k} in --mount`, base === 8 ? 'use an octal mode such as 0755' : 'use a whole number');
    return x;
  };
  const readonlyFlag = bool('ro') ?? bool('readonly');
  const rw = bool('rw') ?? bool('readwrite');
  const source = fields.get('source') ?? fields.get('src');
  switch (type) {
    case 'bind': {
      if (!target) ctx.fail('--mount type=bind needs a target', '--mount=type=bind,source=.,target=/src');
      const from = ctx.input(spec.from, true)!;
      return { type: 'bind', target, from, source: source ?? '/', readonly: rw === true ? false : readonlyFlag ?? true };
    }
    case 'cache': {
      if (!target) ctx.fail('--mount type=cache needs a target', '--mount=type=cache,target=/root/.cache');
      const sharing = fields.get('sharing') ?? 'shared';
      if (sharing !== 'shared' && sharing !== 'private' && sharing !== 'locked') ctx.fail(`invalid sharing "${sharing}" for --mount type=cache`, 'use shared, private or locked');
      const from = ctx.input(spec.from, false);
      return {
        type: 'cache',
        target,
        id: fields.get('id') ?? rawTarget!,
        sharing,
        readonly: readonlyFlag ?? false,
        mode: num('mode', 0o755, 8),
        uid: num('uid', 0),
        gid: num('gid', 0),
        ...(from !== undefined ? { from, source: source ?? '/' } : {}),
      };
    }
    case 'tmpfs': {
      if (!target) ctx.fail('--mount type=tmpfs needs a target', '--mount=type=tmpfs,target=/tmp');
      const size = fields.get('size');
      const bytes = size === undefined ? undefined : parseByteSize(size);
      if (size !== undefined && bytes === undefined) ctx.fail(`invalid size "${size}" in --mount`, 'use bytes or a suffix such as 64m');
      return { type: 'tmpfs', target, ...(bytes !== undefined ? { size: bytes } : {}) };
    }
    case 'secret': {
      const id = fields.get('id') ?? (target ? path.basename(target) : undefined);
      if (!id) ctx.fail('--mount type=secret needs an id or a target', '--mount=type=secret,id=npmrc,target=/root/.npmrc');
      const env = fields.get('env');
      return {
        type: 'secret',
        id,
        ...(env ? { env } : { target: target ?? `/run/secrets/${id}` }),
        ...(env && target ? { target } : {}),
        required: bool('required') ?? false,
        mode: num('mode', 0o400, 8),
        uid: num('uid', 0),
        gid: num('gid', 0),
      };
    }
    case 'ssh':
      return { type: 'ssh', id: fields.get('id') ?? 'default', target: target ?? `/run/buildkit/ssh_agent.${ctx.sshIndex++}`, required: bool('required') ?? false };
    default:
      return ctx.fail(`unsupported mount type "${type}"`, 'use bind, cache, tmpfs, secret or ssh');
  }
}
