// Typed instructions, as BuildKit's instructions package: every parsed node becomes one record with
// its flags and arguments parsed and checked, and its location. Words stay as written: what they
// expand to depends on the ARG/ENV scope, which only the dispatch walk knows.
import type { SourceLocation } from '../common/errors.js';
import type { HealthConfig } from '../common/oci.js';
import { parseDuration } from './duration.js';
import { DockerfileError } from './errors.js';
import { parseFlags, type Flags, type FlagSpec } from './flags.js';
import { parseMount, type MountSpec } from './mounts.js';
import { parse, parseJSONForm, splitWords, type Heredoc, type Node } from './parser.js';
import { expandWord } from './shell.js';
import { suggest } from './suggest.js';

const knownInstructions = [
  'FROM', 'RUN', 'CMD', 'LABEL', 'MAINTAINER', 'EXPOSE', 'ENV', 'ADD', 'COPY', 'ENTRYPOINT',
  'VOLUME', 'USER', 'WORKDIR', 'ARG', 'ONBUILD', 'STOPSIGNAL', 'HEALTHCHECK', 'SHELL',
] as const;

// --link is accepted and copies as a plain COPY does (there is no merge op yet).
const flagSpecs: Readonly<Record<string, FlagSpec>> = {
  FROM: { platform: 'string' },
  RUN: { mount: 'list', network: 'string', security: 'string', device: 'list' },
  COPY: { from: 'string', chown: 'string', chmod: 'string', link: 'bool', parents: 'bool', exclude: 'list' },
  ADD: { chown: 'string', chmod: 'string', link: 'bool', checksum: 'string', 'keep-git-dir': 'bool', exclude: 'list', unpack: 'bool' },
  HEALTHCHECK: { interval: 'string', timeout: 'string', 'start-period': 'string', 'start-interval': 'string', retries: 'string' },
};

interface Common {
  /** The keyword as written (for casing checks). */
  keyword: string;
  location: SourceLocation;
}

export interface FromInstruction extends Common {
  kind: 'FROM';
  /** The base image or stage, unexpanded (global ARGs expand in it). */
  base: string;
  /** `AS name`: the name and the AS keyword as written. */
  as?: { name: string; keyword: string };
  /** --platform, unexpanded. */
  platform?: string;
}

export interface ArgInstruction extends Common {
  kind: 'ARG';
  /** Defaults unexpanded. */
  args: Array<{ key: string; value?: string }>;
}

export interface KeyValueInstruction extends Common {
  kind: 'ENV' | 'LABEL';
  /** Keys and values unexpanded. */
  pairs: Array<{ key: string; value: string }>;
  /** The `KEY value` form (one pair, the value is the rest of the line). */
  legacy: boolean;
}

/** RUN, CMD and ENTRYPOINT: exec form (JSON) or shell form, never expanded (the shell does that). */
interface ShellForm {
  json?: string[];
  /** The arguments as written (shell form). */
  text: string;
}

export interface CommandInstruction extends Common, ShellForm {
  kind: 'CMD' | 'ENTRYPOINT';
}

export interface RunInstruction extends Common, ShellForm {
  kind: 'RUN';
  heredocs: Heredoc[];
  mounts: MountSpec[];
  network: 'default' | 'none' | 'host';
  security: 'sandbox' | 'insecure';
  /** The flags as written, for the step name. */
  flagText: readonly string[];
}

export interface CopyInstruction extends Common {
  kind: 'COPY' | 'ADD';
  /** Sources and destination: exec form, or shell-form text (expanded and split at dispatch). */
  json?: string[];
  text: string;
  heredocs: Heredoc[];
  /** --from, literal (a stage name or index, or an image). */
  from?: string;
  chown?: string;
  chmod?: string;
  excludes: readonly string[];
  parents: boolean;
  checksum?: string;
  keepGitDir: boolean;
  /** ADD --unpack; undefined leaves it to the source kind. */
  unpack?: boolean;
  flagText: readonly string[];
}

/** WORKDIR, USER, STOPSIGNAL and MAINTAINER: one argument. */
export interface WordInstruction extends Common {
  kind: 'WORKDIR' | 'USER' | 'STOPSIGNAL' | 'MAINTAINER';
  word: string;
}

/** EXPOSE and VOLUME: a list (VOLUME also in exec form). */
export interface ListInstruction extends Common {
  kind: 'EXPOSE' | 'VOLUME';
  json?: string[];
  text: string;
}

export interface ShellInstruction extends Common {
  kind: 'SHELL';
  shell: string[];
}

export interface HealthcheckInstruction extends Common {
  kind: 'HEALTHCHECK';
  healthcheck: HealthConfig;
}

export interface OnbuildInstruction extends Common {
  kind: 'ONBUILD';
  /** The trigger as written; it runs in stages built on this one. */
  trigger: string;
}

export type Instruction =
  | FromInstruction
  | ArgInstruction
  | KeyValueInstruction
  | CommandInstruction
  | RunInstruction
  | CopyInstruction
  | WordInstruction
  | ListInstruction
  | ShellInstruction
  | HealthcheckInstruction
  | OnbuildInstruction;

type Fail = (message: string, hint: string) => never;

function invalid(location: SourceLocation, message: string, hint: string): never {
  throw new DockerfileError('TSB_DOCKERFILE_INVALID', message, { location, hint });
}

/** Parses one node; `escape` is the Dockerfile's escape character. */
export function parseInstruction(node: Node, file: string, escape: string): Instruction {
  const location: SourceLocation = { file, startLine: node.startLine, endLine: node.endLine };
  const kind = node.instruction;
  if (!(knownInstructions as readonly string[]).includes(kind)) {
    const s = suggest(kind, knownInstructions);
    invalid(location, `unknown instruction: ${node.keyword}`, s ? `did you mean ${s}?` : `instructions are ${knownInstructions.join(', ')}`);
  }
  const flags = parseFlags(kind, node.flags, flagSpecs[kind] ?? {}, location);
  const keyword = node.keyword;
  const rest = node.rest;
  switch (kind) {
    case 'FROM': {
      const words = rest.split(/[ \t]+/).filter(Boolean);
      const hasAs = words.length === 3 && words[1]!.toUpperCase() === 'AS';
      if (!hasAs && words.length !== 1) invalid(location, 'FROM requires either one or three arguments', 'FROM [--platform=<platform>] <image> [AS <name>]');
      return { kind, keyword, location, base: words[0]!, as: hasAs ? { name: words[2]!, keyword: words[1]! } : undefined, platform: flags.string('platform') };
    }
    case 'ARG':
      return { kind, keyword, location, args: argPairs(rest, escape, location) };
    case 'ENV':
    case 'LABEL':
      return { kind, keyword, location, ...keyValues(kind, rest, escape, location) };
    case 'RUN': {
      const network = flags.string('network') ?? 'default';
      if (network !== 'default' && network !== 'none' && network !== 'host') invalid(location, `invalid --network value "${network}"`, 'use --network=default, none or host');
      const security = flags.string('security') ?? 'sandbox';
      if (security !== 'sandbox' && security !== 'insecure') invalid(location, `invalid --security value "${security}"`, 'use --security=sandbox or insecure');
      const mounts = flags.list('mount').map((m) => parseMount(m, location));
      return { kind, keyword, location, json: node.json, text: rest, heredocs: node.heredocs, mounts, network, security, flagText: node.flags };
    }
    case 'CMD':
    case 'ENTRYPOINT':
      return { kind, keyword, location, json: node.json, text: rest };
    case 'COPY':
    case 'ADD': {
      const from = flags.string('from');
      if (from !== undefined && expandWord(from, new Map(), escape).value !== from) {
        invalid(location, 'variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround', 'add `FROM ${IMAGE} AS src` (global ARGs expand in FROM) and copy --from=src');
      }
      return {
        kind,
        keyword, location,
        json: node.json,
        text: rest,
        heredocs: node.heredocs,
        from,
        chown: flags.string('chown'),
        chmod: flags.string('chmod'),
        checksum: flags.string('checksum'),
        unpack: flags.bool('unpack'),
        excludes: flags.list('exclude'),
        parents: flags.bool('parents') ?? false,
        keepGitDir: flags.bool('keep-git-dir') ?? false,
        flagText: node.flags,
      };
    }
    case 'WORKDIR':
    case 'USER':
    case 'STOPSIGNAL':
    case 'MAINTAINER':
      return { kind, keyword, location, word: rest.trim() };
    case 'EXPOSE':
    case 'VOLUME':
      return { kind, keyword, location, json: node.json, text: rest };
    case 'SHELL':
      if (!node.json || node.json.length === 0) invalid(location, 'SHELL requires the arguments to be in JSON form', 'SHELL ["executable", "parameters"]');
      return { kind, keyword, location, shell: node.json };
    case 'HEALTHCHECK':
      return { kind, keyword, location, healthcheck: healthcheck(rest, flags, location) };
    default: {
      // ONBUILD, the one keyword left
      const trigger = rest.trim();
      parseTriggers([trigger], location, (message, hint) => invalid(location, message, hint));
      return { kind: 'ONBUILD', keyword, location, trigger };
    }
  }
}

/** ARG a=1 b → [{a, '1'}, {b}]; names literal, defaults as written. */
function argPairs(rest: string, escape: string, location: SourceLocation): ArgInstruction['args'] {
  const words = splitWords(rest, escape);
  if (words.length === 0) invalid(location, 'ARG requires at least one argument', 'ARG <name>[=<default value>]');
  return words.map((raw) => {
    const eq = raw.indexOf('=');
    const key = eq >= 0 ? raw.slice(0, eq) : raw;
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) invalid(location, `invalid ARG name "${key}"`, 'ARG names are letters, digits and _ and must not start with a digit');
    return eq >= 0 ? { key, value: raw.slice(eq + 1) } : { key };
  });
}

/** ENV/LABEL `k=v k2=v2`, or the legacy `k v` (the value is the rest of the line). */
function keyValues(what: string, rest: string, escape: string, location: SourceLocation): Pick<KeyValueInstruction, 'pairs' | 'legacy'> {
  const words = splitWords(rest, escape);
  if (words.length === 0) invalid(location, `${what} requires at least one argument`, `${what} <key>=<value> ...`);
  if (!words[0]!.includes('=')) {
    const m = /^(\S+)\s+([\s\S]*)$/.exec(rest.trim());
    if (!m) invalid(location, `${what} must have two arguments`, `${what} <key>=<value>`);
    return { pairs: [{ key: m[1]!, value: m[2]! }], legacy: true };
  }
  const pairs = words.map((w) => {
    const eq = w.indexOf('=');
    if (eq < 0) invalid(location, `${what} ${w}: missing "=" (every word must be key=value)`, `${what} ${w}=<value>`);
    return { key: w.slice(0, eq), value: w.slice(eq + 1) };
  });
  return { pairs, legacy: false };
}

const durationFlags = [['interval', 'Interval'], ['timeout', 'Timeout'], ['start-period', 'StartPeriod'], ['start-interval', 'StartInterval']] as const;

/** HEALTHCHECK NONE, or [--interval=… …] CMD <command> as the image config stores it. */
function healthcheck(rest: string, flags: Flags, location: SourceLocation): HealthConfig {
  const text = rest.trim();
  const words = text.split(/\s+/);
  const word = words[0]!.toUpperCase();
  if (word === 'NONE') {
    if (words.length > 1 || flags.size > 0) invalid(location, 'HEALTHCHECK NONE takes no other arguments', 'HEALTHCHECK NONE');
    return { Test: ['NONE'] };
  }
  if (word !== 'CMD') invalid(location, 'HEALTHCHECK requires CMD or NONE', 'HEALTHCHECK [--interval=30s ...] CMD <command>');
  const cmdText = text.replace(/^\S+\s*/, '');
  if (!cmdText) invalid(location, 'HEALTHCHECK CMD needs a command', 'HEALTHCHECK CMD <command>');
  const json = parseJSONForm(cmdText);
  const hc: HealthConfig = { Test: json ? ['CMD', ...json] : ['CMD-SHELL', cmdText] };
  for (const [flag, field] of durationFlags) {
    const v = flags.string(flag);
    if (v === undefined) continue;
    const ns = parseDuration(v);
    if (ns === undefined) invalid(location, `invalid --${flag} "${v}"`, 'use a duration such as 30s, 1m30s or 500ms');
    if (ns !== 0 && ns < 1e6) invalid(location, `Interval "--${flag}" cannot be less than 1ms`, 'use 0s (the default) or at least 1ms');
    if (ns) hc[field] = ns;
  }
  const retries = flags.string('retries');
  if (retries !== undefined) {
    if (!/^\d+$/.test(retries)) invalid(location, `invalid --retries "${retries}"`, 'use a whole number');
    if (Number(retries)) hc.Retries = Number(retries);
  }
  return hc;
}

/**
 * ONBUILD triggers as instructions located at `location` (where they run: the FROM of the child
 * stage, as BuildKit shows them). `fail` reports a trigger that is not a valid instruction.
 */
export function parseTriggers(triggers: readonly string[], location: SourceLocation, fail: Fail): Instruction[] {
  return triggers.map((trigger) => {
    const word = trigger.split(/\s+/)[0]!.toUpperCase();
    if (!word) fail('ONBUILD requires at least one argument', 'ONBUILD <instruction>');
    if (word === 'ONBUILD') fail("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed", 'give the trigger an instruction other than ONBUILD');
    if (word === 'FROM' || word === 'MAINTAINER') fail(`${word} isn't allowed as an ONBUILD trigger`, 'ONBUILD takes instructions such as RUN, COPY or ENV');
    try {
      const parsed = parse(trigger, location.file);
      return parseInstruction({ ...parsed.nodes[0]!, startLine: location.startLine, endLine: location.endLine }, location.file, parsed.directives.escape);
    } catch (e) {
      if (e instanceof DockerfileError) fail(`invalid ONBUILD trigger "${trigger}": ${e.message}`, e.hint ?? 'fix the trigger');
      throw e;
    }
  });
}
