// Instruction flags (`--name[=value]`) as BuildKit's bflag reads them: each instruction names the
// flags it takes and their kind; anything else is an error at the instruction.
import type { SourceLocation } from '../common/errors.js';
import { DockerfileError } from './errors.js';

/** string: the last value wins; list: every value, in order (--mount, --exclude); bool: bare or =true/false. */
type FlagKind = 'string' | 'list' | 'bool';
export type FlagSpec = Readonly<Record<string, FlagKind>>;

/** Flags the parser accepts but this version does not implement yet: a clear error, not silence. */
const unimplemented: Readonly<Record<string, readonly string[]>> = { RUN: ['device'] };

export class Flags {
  constructor(private readonly values: ReadonlyMap<string, readonly string[]>) {}

  string(name: string): string | undefined {
    return this.values.get(name)?.at(-1);
  }

  list(name: string): readonly string[] {
    return this.values.get(name) ?? [];
  }

  /** undefined when the flag is absent (each instruction has its own default). */
  bool(name: string): boolean | undefined {
    const v = this.string(name);
    return v === undefined ? undefined : v !== 'false';
  }

  get size(): number {
    return this.values.size;
  }
}

/** What most instructions have. */
const NO_FLAGS = new Flags(new Map());

/** Parses `raw` (`--name=value` words as the line parser split them) against the instruction's spec. */
export function parseFlags(instruction: string, raw: readonly string[], spec: FlagSpec, location: SourceLocation): Flags {
  if (raw.length === 0) return NO_FLAGS;
  const values = new Map<string, string[]>();
  const fail = (message: string, hint: string): never => {
    throw new DockerfileError('TSB_DOCKERFILE_INVALID', message, { location, hint });
  };
  const names = Object.keys(spec);
  for (const word of raw) {
    const body = word.slice(2);
    const eq = body.indexOf('=');
    const name = (eq >= 0 ? body.slice(0, eq) : body).toLowerCase();
    const kind = spec[name];
    if (!kind) fail(`unknown flag: --${name}`, names.length ? `${instruction} takes ${names.map((f) => `--${f}`).join(', ')}` : `${instruction} takes no flags`);
    if (unimplemented[instruction]?.includes(name)) fail(`${instruction} --${name} is not supported by this version of tsbuild yet`, 'remove the flag, or build this Dockerfile with BuildKit for now');
    let value = eq >= 0 ? body.slice(eq + 1) : undefined;
    if (kind === 'bool') {
      value ??= 'true';
      const lower = value.toLowerCase();
      if (lower !== 'true' && lower !== 'false') fail(`expecting boolean value for flag ${name}, not: ${value}`, `use --${name}, --${name}=true or --${name}=false`);
      value = lower;
    } else if (value === undefined) {
      fail(`missing a value on flag: --${name}`, `write --${name}=<value>`);
    }
    const list = values.get(name);
    if (list) list.push(value!);
    else values.set(name, [value!]);
  }
  return new Flags(values);
}
