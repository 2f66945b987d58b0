// Build checks: BuildKit's Dockerfile linter rules, as a pure pass over the parsed Dockerfile.
// No filesystem, no processes, no base images: what BuildKit learns from a base image (its env,
// its SHELL, its platform) is either passed in or treated conservatively (see UndefinedVar).
// Rule names, messages, descriptions and URLs follow moby/buildkit frontend/dockerfile/linter.
import path from 'node:path/posix';
import type { SourceLocation } from '../builder/graph.js';
import { DockerfileError } from './errors.js';
import { splitWords, type Node, type ParseResult } from './parser.js';
import { ExpansionError, expandWord, expandWords, type Env } from './shell.js';

export interface LintWarning {
  rule: string;
  /** The formatted message (BuildKit's "detail"). */
  message: string;
  location?: SourceLocation;
  /** The rule's documentation page. */
  url?: string;
  /** The rule's one-line description (shown by BuildKit with --debug). */
  description?: string;
}
/** Compatible with convert.ts's Warning (same fields plus url/description). */
export type Warning = LintWarning;

export interface CheckConfig {
  skip: Set<string> | 'all';
  /** `error=true`: a build with (unskipped) warnings fails. */
  error: boolean;
  /** Experimental rules (CopyIgnoredFile) only run when named here (`experimental=A,B` or `all`). */
  experimental: Set<string> | 'all';
}

export interface LintOptions {
  /** Name shown in locations, e.g. "Dockerfile". */
  filename: string;
  buildArgs: ReadonlyMap<string, string>;
  target?: string;
  /**
   * Lint every stage, as `docker build --check` does when no target is given. Otherwise (a build)
   * the instruction-level rules only look at the stages the target needs, as BuildKit does.
   */
  allStages?: boolean;
  /** .dockerignore patterns as parseDockerignore returns them (for CopyIgnoredFile). */
  dockerignore?: readonly string[];
  /**
   * Env of a base image, when known: `KEY=value` entries or bare names, for a ref as written in FROM
   * (after ARG expansion). Unknown (undefined) → UndefinedVar is conservative in that stage.
   */
  imageEnv?: (ref: string) => readonly string[] | undefined;
  /** The Dockerfile text: only used to point a malformed `# check=` directive at its line. */
  source?: string;
  /** Values for the automatic platform ARGs; default linux/amd64 for both. */
  targetPlatform?: string;
  buildPlatform?: string;
}

export interface LintResult {
  /** In the order BuildKit emits them (parse-level rules first, then stage by stage). */
  warnings: LintWarning[];
  checkConfig: CheckConfig;
}

interface RuleInfo {
  description: string;
  url: string;
  experimental?: boolean;
}

const ruleUrl = (kebab: string): string => `https://docs.docker.com/go/dockerfile/rule/${kebab}/`;

export const rules: Record<string, RuleInfo> = {
  StageNameCasing: { description: 'Stage names should be lowercase', url: ruleUrl('stage-name-casing') },
  FromAsCasing: { description: "The 'as' keyword should match the case of the 'from' keyword", url: ruleUrl('from-as-casing') },
  NoEmptyContinuation: { description: 'Empty continuation lines will become errors in a future release', url: ruleUrl('no-empty-continuation') },
  ConsistentInstructionCasing: { description: 'All commands within the Dockerfile should use the same casing (either upper or lower)', url: ruleUrl('consistent-instruction-casing') },
  DuplicateStageName: { description: 'Stage names should be unique', url: ruleUrl('duplicate-stage-name') },
  ReservedStageName: { description: 'Reserved words should not be used as stage names', url: ruleUrl('reserved-stage-name') },
  JSONArgsRecommended: { description: 'JSON arguments recommended for ENTRYPOINT/CMD to prevent unintended behavior related to OS signals', url: ruleUrl('json-args-recommended') },
  MaintainerDeprecated: { description: 'The MAINTAINER instruction is deprecated, use a label instead to define an image author', url: ruleUrl('maintainer-deprecated') },
  UndefinedArgInFrom: { description: 'FROM command must use declared ARGs', url: ruleUrl('undefined-arg-in-from') },
  WorkdirRelativePath: { description: 'Relative workdir without an absolute workdir declared within the build can have unexpected results if the base image changes', url: ruleUrl('workdir-relative-path') },
  UndefinedVar: { description: 'Variables should be defined before their use', url: ruleUrl('undefined-var') },
  MultipleInstructionsDisallowed: { description: 'Multiple instructions of the same type should not be used in the same stage', url: ruleUrl('multiple-instructions-disallowed') },
  LegacyKeyValueFormat: { description: 'Legacy key/value format with whitespace separator should not be used', url: ruleUrl('legacy-key-value-format') },
  InvalidBaseImagePlatform: { description: 'Base image platform does not match expected target platform', url: ruleUrl('invalid-base-image-platform') },
  RedundantTargetPlatform: { description: 'Setting platform to predefined $TARGETPLATFORM in FROM is redundant as this is the default behavior', url: ruleUrl('redundant-target-platform') },
  SecretsUsedInArgOrEnv: { description: 'Sensitive data should not be used in the ARG or ENV commands', url: ruleUrl('secrets-used-in-arg-or-env') },
  InvalidDefaultArgInFrom: { description: 'Default value for global ARG results in an empty or invalid base image name', url: ruleUrl('invalid-default-arg-in-from') },
  FromPlatformFlagConstDisallowed: { description: 'FROM --platform flag should not use a constant value', url: ruleUrl('from-platform-flag-const-disallowed') },
  CopyIgnoredFile: { description: 'Attempting to Copy file that is excluded by .dockerignore', url: ruleUrl('copy-ignored-file'), experimental: true },
  ExposeProtoCasing: { description: 'Protocol in EXPOSE instruction should be lowercase', url: ruleUrl('expose-proto-casing') },
  ExposeInvalidFormat: { description: 'IP address and host-port mapping should not be used in EXPOSE instruction. This will become an error in a future release', url: ruleUrl('expose-invalid-format') },
};

/** A malformed `# check=` directive (or BUILDKIT_DOCKERFILE_CHECK build arg). */
export class CheckDirectiveError extends DockerfileError {
  constructor(message: string, readonly directive: string, location?: SourceLocation) {
    super(`failed to parse check options: ${message}`, location, 'the directive is # check=skip=<Rule>,<Rule>;error=true (or skip=all)', directive);
    this.name = 'CheckDirectiveError';
  }
}

function parseBool(v: string): boolean | undefined {
  // Go's strconv.ParseBool
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(v)) return false;
  return undefined;
}

function ruleList(v: string): Set<string> | 'all' {
  const t = v.trim();
  return t === 'all' ? 'all' : new Set(t.split(',').map((r) => r.trim()).filter(Boolean));
}

/**
 * `skip=A,B;error=true;experimental=C` as BuildKit reads it: keys trimmed, `all` for every rule,
 * error as a Go bool. Unknown rule names are accepted (as BuildKit does); unknown keys are errors.
 */
export function parseCheckDirective(value: string | undefined, location?: SourceLocation, source?: string): CheckConfig {
  const config: CheckConfig = { skip: new Set(), error: false, experimental: new Set() };
  const text = (value ?? '').trim();
  if (!text) return config;
  const directive = source ?? `# check=${text}`;
  for (const part of text.split(';')) {
    if (!part.trim()) continue;
    const eq = part.indexOf('=');
    if (eq < 0) throw new CheckDirectiveError(`invalid check option "${part}"`, directive, location);
    const key = part.slice(0, eq).trim();
    const v = part.slice(eq + 1);
    if (key === 'skip') config.skip = ruleList(v);
    else if (key === 'experimental') config.experimental = ruleList(v);
    else if (key === 'error') {
      const b = parseBool(v.trim());
      if (b === undefined) throw new CheckDirectiveError(`failed to parse check option "${part}": "${v.trim()}" is not a boolean`, directive, location);
      config.error = b;
    } else throw new CheckDirectiveError(`invalid check option "${key}"`, directive, location);
  }
  return config;
}

// ---------------------------------------------------------------------------------------------
// Helpers

const PLATFORM_ARGS = ['BUILDPLATFORM', 'BUILDOS', 'BUILDARCH', 'BUILDVARIANT', 'TARGETPLATFORM', 'TARGETOS', 'TARGETARCH', 'TARGETVARIANT'];
const PROXY_ARGS = new Set(['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'FTP_PROXY', 'ftp_proxy', 'NO_PROXY', 'no_proxy', 'ALL_PROXY', 'all_proxy']);
/** Build args BuildKit never reports as undefined. */
const NON_ENV_ARGS = new Set(['BUILDKIT_SBOM_SCAN_CONTEXT', 'BUILDKIT_SBOM_SCAN_STAGE']);
const SECRET_RE = /(?:_|^)(?:apikey|auth|credential|credentials|key|password|pword|passwd|secret|token)(?:_|$)/i;
const SECRET_ALLOW_RE = /(?:_|^)(?:public)(?:_|$)/i;
const KNOWN_OS = new Set(['aix', 'android', 'darwin', 'dragonfly', 'freebsd', 'illumos', 'ios', 'js', 'linux', 'netbsd', 'openbsd', 'plan9', 'solaris', 'wasip1', 'windows']);
const KNOWN_ARCH = new Set(['386', 'amd64', 'amd64p32', 'arm', 'arm64', 'arm64be', 'armbe', 'loong64', 'mips', 'mips64', 'mips64le', 'mipsle', 'ppc64', 'ppc64le', 'riscv64', 's390x', 'sparc64', 'wasm', 'x86_64', 'aarch64', 'i386', 'armhf', 'armel']);

function platformParts(p: string): { os: string; arch: string; variant: string } {
  const [os = 'linux', arch = 'amd64', variant = ''] = p.split('/');
  return { os, arch, variant };
}

/** containerd's platforms.Parse, loosely: `os[/arch[/variant]]` or a lone os or arch. */
function parsePlatform(s: string): { os: string; arch: string } | undefined {
  const parts = s.toLowerCase().split('/');
  if (parts.length > 3 || parts.some((p) => !/^[a-z0-9_.-]+$/.test(p))) return undefined;
  if (parts.length === 1) {
    if (KNOWN_OS.has(parts[0]!)) return { os: parts[0]!, arch: 'amd64' };
    if (KNOWN_ARCH.has(parts[0]!)) return { os: 'linux', arch: parts[0]! };
    return undefined;
  }
  if (!KNOWN_OS.has(parts[0]!)) return undefined;
  return { os: parts[0]!, arch: parts[1]! };
}

/** distribution/reference ParseNormalizedNamed, as far as validity goes. */
export function isValidImageReference(ref: string): boolean {
  if (!ref) return false;
  if (/^[a-f0-9]{64}$/.test(ref)) return false;
  const domainComponent = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
  const domain = `(?:${domainComponent}(?:\\.${domainComponent})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?`;
  const component = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
  const name = `(?:${domain}/)?${component}(?:/${component})*`;
  const re = new RegExp(`^(${name})(?::[\\w][\\w.-]{0,127})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$`);
  const m = re.exec(ref);
  return !!m && m[1]!.length <= 255;
}

/** Edit distance, or `limit` as soon as it is known to be at least that (suggestions only care below it). */
function levenshtein(a: string, b: string, limit = Infinity): number {
  if (Math.abs(a.length - b.length) >= limit) return limit;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (cur[j]! < rowMin) rowMin = cur[j]!;
    }
    if (rowMin >= limit) return limit;
    prev = cur;
  }
  return prev[b.length]!;
}

/** BuildKit's suggest.Search: the closest option within edit distance 2; none for an exact match. */
function suggest(value: string, options: Iterable<string>): string | undefined {
  let best: string | undefined;
  let min = 3;
  for (const o of options) {
    if (o === value) return undefined;
    const d = levenshtein(value, o, min);
    if (d < min) {
      best = o;
      min = d;
    }
  }
  return best;
}

/** Expands a word; `all` is every name it references, `unmatched` those `env` lacks. */
function references(word: string, env: Env, escape: string): { all: Set<string>; unmatched: Set<string>; value: string } | undefined {
  try {
    const r = expandWord(word, env, escape);
    // Every reference is looked up, so against an empty env all of them are unmatched.
    const all = expandWord(word, new Map(), escape).unmatched;
    return { all, unmatched: r.unmatched, value: r.value };
  } catch (e) {
    if (e instanceof ExpansionError) return undefined;
    throw e;
  }
}

const isName = (n: string): boolean => /^[A-Za-z_][A-Za-z0-9_]*$/.test(n);

/** Splits `a=1 b="x y"` into words, keeping quotes and escapes (for per-word expansion). */

/** ENV/LABEL arguments as raw key/value words; `legacy` for the `KEY value` form. */
function keyValues(rest: string, escape: string): { pairs: Array<[string, string]>; legacy: boolean } {
  const words = splitWords(rest, escape);
  if (words.length === 0) return { pairs: [], legacy: false };
  if (!words[0]!.includes('=')) {
    const m = /^(\S+)\s+([\s\S]*)$/.exec(rest.trim());
    return { pairs: m ? [[m[1]!, m[2]!]] : [], legacy: true };
  }
  const pairs: Array<[string, string]> = [];
  for (const w of words) {
    const eq = w.indexOf('=');
    if (eq > 0) pairs.push([w.slice(0, eq), w.slice(eq + 1)]);
  }
  return { pairs, legacy: false };
}

function flagValues(node: Node, name: string): string[] {
  const out: string[] = [];
  for (const f of node.flags) {
    const body = f.slice(2);
    const eq = body.indexOf('=');
    const k = (eq >= 0 ? body.slice(0, eq) : body).toLowerCase();
    if (k === name) out.push(eq >= 0 ? body.slice(eq + 1) : '');
  }
  return out;
}

// .dockerignore matching (moby/patternmatcher semantics, enough for CopyIgnoredFile)
interface IgnorePattern {
  re: RegExp;
  dirs: number;
  exclusion: boolean;
}

function compileIgnorePattern(raw: string): IgnorePattern {
  const exclusion = raw.startsWith('!');
  const p = exclusion ? raw.slice(1) : raw;
  let re = '^';
  for (let i = 0; i < p.length; i++) {
    const c = p[i]!;
    if (c === '*') {
      if (p[i + 1] === '*') {
        i++;
        if (p[i + 1] === '/') i++;
        re += i + 1 >= p.length ? '.*' : '(?:.*/)?';
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else if (c === '\\' && i + 1 < p.length) re += p[++i]!.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    else if (c === '[') {
      const close = p.indexOf(']', i + 1);
      if (close < 0) re += '\\[';
      else {
        re += `[${p.slice(i + 1, close).replace(/^!/, '^').replace(/\\/g, '\\\\')}]`;
        i = close;
      }
    } else re += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return { re: new RegExp(`${re}$`, 's'), dirs: p.split('/').length, exclusion };
}

/** Whether a context path is excluded: last matching pattern wins; a pattern matching a parent counts. */
export function ignoreMatcher(patterns: readonly string[]): (file: string) => boolean {
  const compiled = patterns.map(compileIgnorePattern);
  return (file) => {
    let f = path.normalize(file).replace(/^(\.\/)+/, '').replace(/^\/+/, '');
    f = f.replace(/\/+$/, '');
    if (!f || f === '.') return false;
    const parent = path.dirname(f);
    const parentDirs = parent === '.' ? [] : parent.split('/');
    let matched = false;
    for (const p of compiled) {
      let m = p.re.test(f);
      if (!m && parentDirs.length > 0 && p.dirs <= parentDirs.length) m = p.re.test(parentDirs.slice(0, p.dirs).join('/'));
      if (m) matched = !p.exclusion;
    }
    return matched;
  };
}

// ---------------------------------------------------------------------------------------------
// The linter

interface StageInfo {
  index: number;
  fromNode: Node;
  /** As written (for StageNameCasing). */
  nameWritten?: string;
  /** Lower-cased, as BuildKit keys stages. */
  name?: string;
  baseWord: string;
  platform?: string;
  nodes: Node[];
  /** Expanded base name (global ARGs with build args). */
  base?: string;
  baseStage?: StageInfo;
  state?: StageState;
}

interface StageState {
  /** ENV, base image env and ARGs with values, as BuildKit's state env. */
  env: Map<string, string>;
  /** Every ARG declared in the stage chain (with or without value). */
  argKeys: Set<string>;
  workdirSet: boolean;
  shellSet: boolean;
  /** Base image env unknown: UndefinedVar only reports near-misses and platform ARGs. */
  envUnknown: boolean;
}

class Linter {
  readonly warnings: LintWarning[] = [];
  private readonly stages: StageInfo[] = [];
  private readonly globalArgNodes: Node[] = [];
  private readonly escape: string;
  private readonly defaults = new Map<string, string>();
  private globalEnv = new Map<string, string>();
  private readonly globalArgKeys = new Set<string>();
  private readonly isIgnored?: (file: string) => boolean;

  constructor(private readonly parsed: ParseResult, private readonly opts: LintOptions, private readonly config: CheckConfig) {
    this.escape = parsed.directives.escape;
    if (opts.dockerignore?.length) this.isIgnored = ignoreMatcher(opts.dockerignore);
  }

  private enabled(rule: string): boolean {
    if (rules[rule]?.experimental) {
      const e = this.config.experimental;
      return e === 'all' || e.has(rule);
    }
    const s = this.config.skip;
    return !(s === 'all' || s.has(rule));
  }

  private warn(rule: string, message: string, at: Node | { startLine: number; endLine: number }): void {
    if (!this.enabled(rule)) return;
    const info = rules[rule];
    this.warnings.push({
      rule,
      message,
      location: { file: this.opts.filename, startLine: at.startLine, endLine: at.endLine },
      ...(info ? { url: info.url, description: info.description } : {}),
    });
  }

  run(): void {
    this.splitStages();
    // 1. Parser warnings.
    for (const w of this.parsed.warnings) {
      if (w.rule !== 'NoEmptyContinuation') continue;
      const node = this.parsed.nodes.find((n) => n.startLine === w.line);
      this.warn('NoEmptyContinuation', 'Empty continuation line', node ?? { startLine: w.line, endLine: w.line });
    }
    // 2. Instruction parsing, in file order.
    for (const n of this.parsed.nodes) {
      if (n.instruction === 'MAINTAINER') this.warn('MaintainerDeprecated', 'Maintainer instruction is deprecated in favor of using label', n);
      if (n.instruction === 'FROM') {
        const words = n.rest.split(/[ \t]+/).filter(Boolean);
        if (words.length === 3) {
          if (words[2] !== words[2]!.toLowerCase()) this.warn('StageNameCasing', `Stage name '${words[2]}' should be lowercase`, n);
          const kw = n.keyword;
          const lower = kw === kw.toLowerCase();
          const upper = kw === kw.toUpperCase();
          const as = words[1]!;
          if ((lower && as !== as.toLowerCase()) || (upper && !lower && as !== as.toUpperCase())) {
            this.warn('FromAsCasing', `'${as}' and '${kw}' keywords' casing do not match`, n);
          }
        }
      }
    }
    // 3. Stage names and instruction casing.
    const seen = new Set<string>();
    for (const s of this.stages) {
      if (!s.name) continue;
      if (s.name === 'context' || s.name === 'scratch') this.warn('ReservedStageName', `Stage name should not use the same name as reserved stage "${s.name}"`, s.fromNode);
      if (seen.has(s.name)) this.warn('DuplicateStageName', `Duplicate stage name "${s.name}", stage names should be unique`, s.fromNode);
      seen.add(s.name);
    }
    this.commandCasing();
    // 4. FROM lines against global ARGs.
    this.setupGlobalArgs();
    this.defaultArgsInFrom();
    for (const s of this.stages) this.fromArgs(s);
    // 5. Stage by stage, the stages this build needs.
    const reachable = this.reachable();
    for (const s of this.stages) if (reachable.has(s)) this.dispatchStage(s);
  }

  private splitStages(): void {
    let current: StageInfo | undefined;
    for (const n of this.parsed.nodes) {
      if (n.instruction === 'FROM') {
        const words = n.rest.split(/[ \t]+/).filter(Boolean);
        const nameWritten = words.length === 3 && words[1]!.toUpperCase() === 'AS' ? words[2] : undefined;
        const platform = flagValues(n, 'platform').pop();
        current = {
          index: this.stages.length,
          fromNode: n,
          ...(nameWritten ? { nameWritten, name: nameWritten.toLowerCase() } : {}),
          baseWord: words[0] ?? '',
          ...(platform !== undefined ? { platform } : {}),
          nodes: [],
        };
        this.stages.push(current);
      } else if (current) current.nodes.push(n);
      else if (n.instruction === 'ARG') this.globalArgNodes.push(n);
    }
  }

  private commandCasing(): void {
    const nodes = this.stages.flatMap((s) => [s.fromNode, ...s.nodes]);
    let lower = 0;
    let upper = 0;
    for (const n of nodes) {
      if (n.keyword === n.keyword.toLowerCase()) lower++;
      else if (n.keyword === n.keyword.toUpperCase()) upper++;
    }
    const majorityLower = lower > upper;
    for (const n of nodes) {
      if (majorityLower && n.keyword !== n.keyword.toLowerCase()) {
        this.warn('ConsistentInstructionCasing', `Command '${n.keyword}' should match the case of the command majority (lowercase)`, n);
      } else if (!majorityLower && n.keyword !== n.keyword.toUpperCase()) {
        this.warn('ConsistentInstructionCasing', `Command '${n.keyword}' should match the case of the command majority (uppercase)`, n);
      }
    }
  }

  /** ARG a=1 b → [key, raw default?]. */
  private argPairs(n: Node): Array<[string, string | undefined]> {
    return splitWords(n.rest, this.escape).map((w) => {
      const eq = w.indexOf('=');
      return eq >= 0 ? [w.slice(0, eq), w.slice(eq + 1)] : [w, undefined];
    });
  }

  private expandSafe(word: string, env: Env): string | undefined {
    try {
      return expandWord(word, env, this.escape).value;
    } catch (e) {
      if (e instanceof ExpansionError) return undefined;
      throw e;
    }
  }

  /** Global ARG values: the automatic platform args, then each global ARG (build args win). */
  private metaArgs(buildArgs: ReadonlyMap<string, string>): Map<string, string> {
    const env = new Map(this.defaults);
    for (const k of this.defaults.keys()) {
      const o = buildArgs.get(k);
      if (o !== undefined) env.set(k, o);
    }
    for (const n of this.globalArgNodes) {
      for (const [k, def] of this.argPairs(n)) {
        const given = buildArgs.get(k);
        const value = given ?? (def !== undefined ? this.expandSafe(def, env) : undefined);
        if (value !== undefined) env.set(k, value);
      }
    }
    return env;
  }

  private setupGlobalArgs(): void {
    const t = platformParts(this.opts.targetPlatform ?? 'linux/amd64');
    const b = platformParts(this.opts.buildPlatform ?? 'linux/amd64');
    const fmt = (p: typeof t) => [p.os, p.arch, p.variant].filter(Boolean).join('/');
    this.defaults.set('BUILDPLATFORM', fmt(b));
    this.defaults.set('BUILDOS', b.os);
    this.defaults.set('BUILDARCH', b.arch);
    this.defaults.set('BUILDVARIANT', b.variant);
    this.defaults.set('TARGETPLATFORM', fmt(t));
    this.defaults.set('TARGETOS', t.os);
    this.defaults.set('TARGETARCH', t.arch);
    this.defaults.set('TARGETVARIANT', t.variant);
    const target = this.opts.target ?? this.stages[this.stages.length - 1]?.nameWritten ?? '';
    this.defaults.set('TARGETSTAGE', target);
    for (const n of this.globalArgNodes) for (const [k] of this.argPairs(n)) this.globalArgKeys.add(k);
    this.globalEnv = this.metaArgs(this.opts.buildArgs);
    for (const s of this.stages) {
      const base = this.expandSafe(s.baseWord, this.globalEnv);
      if (base !== undefined) s.base = base;
    }
    // A FROM naming an earlier stage builds on it.
    for (const s of this.stages) {
      if (s.base === undefined) continue;
      const lower = s.base.toLowerCase();
      s.baseStage = this.stages.slice(0, s.index).reverse().find((p) => p.name === lower);
    }
  }

  /** InvalidDefaultArgInFrom: base names must be valid with no --build-arg at all. */
  private defaultArgsInFrom(): void {
    const env = this.metaArgs(new Map());
    for (const s of this.stages) {
      const v = this.expandSafe(s.baseWord, env);
      if (v === undefined) return;
      if (!isValidImageReference(v)) this.warn('InvalidDefaultArgInFrom', `Default value for ARG ${s.baseWord} results in empty or invalid base image name`, s.fromNode);
    }
  }

  private fromArgs(s: StageInfo): void {
    const declared = new Set([...this.globalArgKeys, ...this.globalEnv.keys()]);
    const undeclared = (unmatched: Set<string>): void => {
      for (const v of unmatched) {
        if (declared.has(v) || !isName(v)) continue;
        const hint = suggest(v, declared);
        this.warn('UndefinedArgInFrom', `FROM argument '${v}' is not declared${hint ? ` (did you mean ${hint}?)` : ''}`, s.fromNode);
      }
    };
    const base = references(s.baseWord, this.globalEnv, this.escape);
    if (base) undeclared(base.unmatched);
    if (s.platform === undefined) return;
    const p = references(s.platform, this.globalEnv, this.escape);
    if (!p) return;
    undeclared(p.unmatched);
    const matched = [...p.all].filter((n) => !p.unmatched.has(n));
    if (matched.length === 1 && matched[0] === 'TARGETPLATFORM' && p.unmatched.size === 0 && p.value === this.globalEnv.get('TARGETPLATFORM')) {
      this.warn('RedundantTargetPlatform', `Setting platform to predefined ${s.platform} in FROM is redundant as this is the default behavior`, s.fromNode);
    }
    if (p.all.size === 0) {
      const plat = parsePlatform(p.value);
      const name = s.name ?? '';
      if (plat && !(name.includes(plat.os) || name.includes(plat.arch))) {
        this.warn('FromPlatformFlagConstDisallowed', `FROM --platform flag should not use constant value "${p.value}"`, s.fromNode);
      }
    }
  }

  /** Stages the target needs: its base chain, COPY --from and RUN --mount from= sources. */
  private reachable(): Set<StageInfo> {
    if (this.opts.allStages || this.stages.length === 0) return new Set(this.stages);
    const byName = (name: string): StageInfo | undefined => {
      if (/^\d+$/.test(name)) return this.stages[Number(name)];
      const lower = name.toLowerCase();
      return [...this.stages].reverse().find((s) => s.name === lower);
    };
    let target = this.stages[this.stages.length - 1]!;
    if (this.opts.target) target = byName(this.opts.target) ?? target;
    const out = new Set<StageInfo>();
    const visit = (s: StageInfo): void => {
      if (out.has(s)) return;
      out.add(s);
      if (s.baseStage) visit(s.baseStage);
      for (const n of s.nodes) {
        const froms = n.instruction === 'COPY' || n.instruction === 'ADD' ? flagValues(n, 'from') : [];
        if (n.instruction === 'RUN') {
          for (const m of flagValues(n, 'mount')) {
            const f = /(?:^|,)from=([^,]+)/.exec(m);
            if (f) froms.push(f[1]!);
          }
        }
        for (const f of froms) {
          const dep = byName(this.expandSafe(f, this.globalEnv) ?? f);
          if (dep) visit(dep);
        }
      }
    };
    visit(target);
    return out;
  }

  private initialState(s: StageInfo): StageState {
    const b = s.baseStage?.state;
    if (b) return { env: new Map(b.env), argKeys: new Set(b.argKeys), workdirSet: b.workdirSet, shellSet: b.shellSet, envUnknown: b.envUnknown };
    const env = new Map<string, string>();
    let envUnknown = false;
    if (s.base !== undefined && s.base !== 'scratch') {
      const known = this.opts.imageEnv?.(s.base);
      if (known) {
        for (const e of known) {
          const eq = e.indexOf('=');
          env.set(eq >= 0 ? e.slice(0, eq) : e, eq >= 0 ? e.slice(eq + 1) : '');
        }
      } else envUnknown = true;
    }
    if (!env.has('PATH')) env.set('PATH', '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
    return { env, argKeys: new Set(), workdirSet: false, shellSet: false, envUnknown };
  }

  private readonly suggestions = new WeakMap<StageState, Map<string, string | undefined>>();

  /** suggest() over the stage's env, remembered while the env keeps its size (ENV only adds names). */
  private suggestEnv(v: string, st: StageState): string | undefined {
    let memo = this.suggestions.get(st);
    if (!memo) this.suggestions.set(st, (memo = new Map()));
    const key = `${v}\0${st.env.size}`;
    if (!memo.has(key)) memo.set(key, suggest(v, st.env.keys()));
    return memo.get(key);
  }

  /** UndefinedVar for the variables of one instruction that the stage does not define. */
  private undefinedVars(n: Node, st: StageState, unmatched: Iterable<string>): void {
    for (const v of unmatched) {
      if (!isName(v) || st.argKeys.has(v) || NON_ENV_ARGS.has(v) || PROXY_ARGS.has(v)) continue;
      const hint = this.suggestEnv(v, st);
      // Without the base image's env we cannot tell "undefined" from "set by the base image":
      // report only what is clearly a mistake (a near-miss of a known name, or an automatic
      // platform ARG used without `ARG` in the stage).
      if (st.envUnknown && !hint && !PLATFORM_ARGS.includes(v) && v !== 'TARGETSTAGE') continue;
      this.warn('UndefinedVar', `Usage of undefined variable '$${v}'${hint ? ` (did you mean $${hint}?)` : ''}`, n);
    }
  }

  /** Expands words as BuildKit does for this instruction, reporting unset variables. */
  private expandChecked(n: Node, st: StageState, words: string[]): string[] {
    const unmatched = new Set<string>();
    const out: string[] = [];
    for (const w of words) {
      try {
        const r = expandWord(w, st.env, this.escape);
        out.push(r.value);
        for (const u of r.unmatched) unmatched.add(u);
      } catch (e) {
        if (!(e instanceof ExpansionError)) throw e;
        out.push(w);
      }
    }
    this.undefinedVars(n, st, unmatched);
    return out;
  }

  private dispatchStage(s: StageInfo): void {
    const st = this.initialState(s);
    s.state = st;
    const once = new Map<string, Node>();
    for (const n of s.nodes) {
      switch (n.instruction) {
        case 'ARG': {
          for (const [k, def] of this.argPairs(n)) {
            this.secret('ARG', k, n);
            const given = this.opts.buildArgs.get(k);
            let value: string | undefined;
            if (given !== undefined) value = given;
            else if (def !== undefined) value = this.expandChecked(n, st, [def])[0];
            else value = this.globalEnv.get(k); // a global ARG's (or automatic platform ARG's) value
            if (value !== undefined && !NON_ENV_ARGS.has(k)) st.env.set(k, value);
            st.argKeys.add(k);
          }
          break;
        }
        case 'ENV':
        case 'LABEL': {
          const { pairs, legacy } = keyValues(n.rest, this.escape);
          if (legacy) this.warn('LegacyKeyValueFormat', `"${n.keyword} key=value" should be used instead of legacy "${n.keyword} key value" format`, n);
          // All words expand against the env from before the instruction.
          const expanded = this.expandChecked(n, st, pairs.flat());
          if (n.instruction === 'ENV') {
            for (let i = 0; i + 1 < expanded.length; i += 2) {
              this.secret('ENV', expanded[i]!, n);
              st.env.set(expanded[i]!, expanded[i + 1]!);
            }
          }
          break;
        }
        case 'WORKDIR': {
          const [dir = ''] = this.expandChecked(n, st, [n.rest.trim()]);
          if (!st.workdirSet && !dir.startsWith('/')) this.warn('WorkdirRelativePath', `Relative workdir ${JSON.stringify(dir)} can have unexpected results if the base image changes`, n);
          st.workdirSet = true;
          break;
        }
        case 'USER':
        case 'STOPSIGNAL':
          this.expandChecked(n, st, [n.rest.trim()]);
          break;
        case 'VOLUME':
          this.expandChecked(n, st, n.json ?? splitWords(n.rest, this.escape));
          break;
        case 'COPY':
        case 'ADD': {
          const flagWords = [...flagValues(n, 'chown'), ...flagValues(n, 'chmod'), ...(n.instruction === 'ADD' ? flagValues(n, 'checksum') : [])];
          this.expandChecked(n, st, flagWords);
          if (n.heredocs.length && !n.json) break;
          const words = this.expandChecked(n, st, n.json ?? splitWords(n.rest, this.escape));
          if (this.isIgnored && flagValues(n, 'from').length === 0) {
            for (const src of words.slice(0, -1)) {
              if (n.instruction === 'ADD' && (/^[a-z][a-z0-9+.-]*:\/\//i.test(src) || src.startsWith('git@'))) continue;
              if (this.isIgnored(src)) this.warn('CopyIgnoredFile', `Attempting to ${n.instruction === 'ADD' ? 'Add' : 'Copy'} file ${JSON.stringify(src)} that is excluded by .dockerignore`, n);
            }
          }
          break;
        }
        case 'EXPOSE': {
          let ports: string[];
          try {
            ports = expandWords(n.rest, st.env, this.escape).words;
          } catch (e) {
            if (!(e instanceof ExpansionError)) throw e;
            break;
          }
          for (const p of ports) this.exposePort(n, p);
          break;
        }
        case 'SHELL':
          st.shellSet = true;
          break;
        case 'CMD':
        case 'ENTRYPOINT':
        case 'HEALTHCHECK': {
          const prev = once.get(n.instruction);
          if (prev) this.warn('MultipleInstructionsDisallowed', `Multiple ${n.keyword} instructions should not be used in the same stage because only the last one will be used`, prev);
          once.set(n.instruction, n);
          if (n.instruction !== 'HEALTHCHECK' && !n.json && !st.shellSet) {
            this.warn('JSONArgsRecommended', `JSON arguments recommended for ${n.keyword} to prevent unintended behavior related to OS signals`, n);
          }
          break;
        }
      }
    }
  }

  private secret(instruction: 'ARG' | 'ENV', key: string, n: Node): void {
    if (SECRET_RE.test(key) && !SECRET_ALLOW_RE.test(key)) {
      this.warn('SecretsUsedInArgOrEnv', `Do not use ARG or ENV instructions for sensitive data (${instruction} ${JSON.stringify(key)})`, n);
    }
  }

  private exposePort(n: Node, raw: string): void {
    const parts = raw.split(':');
    let ip = '';
    let hostPort = '';
    let container = raw;
    if (parts.length === 2) [hostPort, container] = parts as [string, string];
    else if (parts.length === 3) [ip, hostPort, container] = parts as [string, string, string];
    else if (parts.length > 3) {
      ip = parts.slice(0, -2).join(':');
      hostPort = parts[parts.length - 2]!;
      container = parts[parts.length - 1]!;
    }
    const slash = container.indexOf('/');
    const proto = slash >= 0 ? container.slice(slash + 1) : '';
    if (proto !== proto.toLowerCase()) this.warn('ExposeProtoCasing', `Defined protocol '${raw}' in EXPOSE instruction should be lowercase`, n);
    if (ip || hostPort) this.warn('ExposeInvalidFormat', `EXPOSE instruction should not define an IP address or host-port mapping, found '${raw}'`, n);
  }
}

/**
 * Runs the build checks. The check configuration comes from the BUILDKIT_DOCKERFILE_CHECK build
 * arg when given (as BuildKit does), else the `# check=` directive; a malformed one throws
 * CheckDirectiveError.
 */
export function lint(parsed: ParseResult, opts: LintOptions): LintResult {
  const fromArg = opts.buildArgs.get('BUILDKIT_DOCKERFILE_CHECK');
  let checkConfig: CheckConfig;
  if (fromArg !== undefined) {
    checkConfig = parseCheckDirective(fromArg, undefined, `--build-arg BUILDKIT_DOCKERFILE_CHECK=${fromArg}`);
  } else {
    // Directives sit on the first lines, before anything else.
    const lines = opts.source?.split(/\r?\n/) ?? [];
    const i = lines.findIndex((l, k) => k < 3 && /^\uFEFF?#[ \t]*check[ \t]*=/i.test(l));
    const at = i >= 0 ? { file: opts.filename, startLine: i + 1, endLine: i + 1 } : undefined;
    checkConfig = parseCheckDirective(parsed.directives.check, at, i >= 0 ? lines[i] : undefined);
  }
  const l = new Linter(parsed, opts, checkConfig);
  l.run();
  return { warnings: l.warnings, checkConfig };
}

// ---------------------------------------------------------------------------------------------
// Output, as BuildKit / buildx print it

/** `Rule: message (line N)` — BuildKit's short form (linter.LintFormatShort). */
export function formatWarningShort(w: LintWarning): string {
  const line = w.location?.startLine ?? 0;
  return `${w.rule}: ${w.message}${line > 0 ? ` (line ${line})` : ''}`;
}

/**
 * The `build --check` / `lint.error=true` failure: `lint violation found for rules: A, B`, or
 * undefined when the build may go on.
 */
export function lintViolation(result: LintResult): string | undefined {
  if (!result.checkConfig.error || result.warnings.length === 0) return undefined;
  return `lint violation found for rules: ${[...new Set(result.warnings.map((w) => w.rule))].sort().join(', ')}`;
}

/** BuildKit's source excerpt (solver/errdefs Source.Print): the range with context, `>>>` marks. */
export function formatSourceExcerpt(source: string, loc: SourceLocation): string {
  const lines = source.split('\n');
  let start = loc.startLine;
  let end = loc.endLine < start ? start : loc.endLine;
  if (start > lines.length || start < 1) return '';
  if (end > lines.length) end = lines.length;
  const pad = end === start ? 4 : 2;
  const first = start;
  const marked = (i: number) => i >= loc.startLine && i <= Math.max(loc.startLine, loc.endLine);
  for (let p = 0; p < pad; p++) {
    if (start > 1) {
      start--;
      p++;
    }
    if (end !== lines.length) {
      end++;
      p++;
    }
  }
  let out = `${loc.file}:${first}\n--------------------\n`;
  for (let i = start; i <= end; i++) out += ` ${String(i).padStart(3)} | ${marked(i) ? '>>>' : '   '} ${lines[i - 1]}\n`;
  return `${out}--------------------\n`;
}

/**
 * Warnings at the end of a build (buildx printWarnings): a blank line, ` N warnings found
 * (use --debug to expand):`, then ` - <short>` per warning; with `debug`, each is followed by its
 * description, `More info: <url>`, the source excerpt and a blank line.
 */
export function formatBuildWarnings(warnings: readonly LintWarning[], opts: { debug?: boolean; source?: string; expandHint?: string } = {}): string {
  if (warnings.length === 0) return '';
  const n = warnings.length;
  let out = `\n ${n === 1 ? '1 warning found' : `${n} warnings found`}${opts.debug ? '' : (opts.expandHint ?? ' (use --debug to expand)')}:\n`;
  for (const w of warnings) {
    out += ` - ${formatWarningShort(w)}\n`;
    if (!opts.debug) continue;
    if (w.description) out += `${w.description}\n`;
    if (w.url) out += `More info: ${w.url}\n`;
    if (opts.source !== undefined && w.location) out += formatSourceExcerpt(opts.source, w.location);
    out += '\n';
  }
  return out;
}

/**
 * `build --check` output (buildx printResult + lint.PrintTo): a summary line, then per warning,
 * sorted by line, `\nWARNING: Rule - url\nmessage\n` and the source excerpt. The exit code is 1
 * when there is any warning (whatever error= says), 0 otherwise.
 */
export function formatCheckOutput(result: LintResult, source: string): { text: string; exitCode: number } {
  const ws = [...result.warnings].sort((a, b) => (a.location?.startLine ?? 0) - (b.location?.startLine ?? 0));
  const n = ws.length;
  if (n === 0) return { text: 'Check complete, no warnings found.\n', exitCode: 0 };
  let text = `Check complete, ${n === 1 ? '1 warning has been found!' : `${n} warnings have been found!`}\n`;
  for (const w of ws) {
    text += `\nWARNING: ${w.rule}${w.url ? ` - ${w.url}` : ''}\n${w.message}\n`;
    if (w.location) text += formatSourceExcerpt(source, w.location);
  }
  return { text, exitCode: 1 };
}
