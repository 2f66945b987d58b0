// Dockerfile → op graph. Walks the stages, keeps ARG/ENV scoping, expands words, and emits
// vertices for FROM/RUN/COPY/WORKDIR; metadata instructions only change the stage's image config.
import path from 'node:path/posix';
import type { ContextSource, CopyAction, ExecMount, SourceLocation, Vertex, Chown } from '../builder/graph.js';
import { parseFileMode, type FileMode } from '../common/filemode.js';
import type { ImageConfig, Platform, RunConfig } from '../common/oci.js';
import type { Frontend, FrontendInput, FrontendResult, ResolvedImage } from '../builder/frontend.js';
import { DockerfileError } from './errors.js';
import { flagValue, knownInstructions, locationOf, nodeError, parseFlags, suggestInstruction, type Flags } from './instructions.js';
import { parse, parseJSONForm, ParseError, splitWords, type Node, type ParseResult } from './parser.js';
import { ExpansionError, expandHeredoc, expandWord, expandWords, type Env } from './shell.js';
import { parseDockerignore } from './dockerignore.js';
import { lint, lintViolation, type LintResult } from './lint.js';

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const DEFAULT_SHELL = ['/bin/sh', '-c'];
const HOSTNAME = 'buildkitsandbox';
/** Available without ARG; kept out of history. */
const PROXY_ARGS = ['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'FTP_PROXY', 'ftp_proxy', 'NO_PROXY', 'no_proxy', 'ALL_PROXY', 'all_proxy'];

export type { FrontendInput, FrontendResult, ResolvedImage, Warning } from '../builder/frontend.js';

interface HistoryItem {
  createdBy: string;
  vertex?: Vertex;
}

interface Stage {
  name?: string;
  index: number;
  fromNode: Node;
  nodes: Node[];
  /** Set once converted. */
  state?: StageState;
}

interface StageState {
  vertex: Vertex;
  config: RunConfig;
  env: Map<string, string>;
  args: Map<string, string | undefined>;
  shell: string[];
  history: HistoryItem[];
  baseHistory: ImageConfig['history'];
  cmdSet: boolean;
  author?: string;
  /** The stage's platform fields for the image config. */
  platform: Platform;
}

function envFromList(list: string[] | undefined): Map<string, string> {
  const m = new Map<string, string>();
  for (const kv of list ?? []) {
    const eq = kv.indexOf('=');
    if (eq > 0) m.set(kv.slice(0, eq), kv.slice(eq + 1));
  }
  return m;
}

function envToList(m: ReadonlyMap<string, string>): string[] {
  return [...m].map(([k, v]) => `${k}=${v}`);
}

const SIGNALS = new Set(['ABRT', 'ALRM', 'BUS', 'CHLD', 'CLD', 'CONT', 'FPE', 'HUP', 'ILL', 'INT', 'IO', 'IOT', 'KILL', 'PIPE', 'POLL', 'PROF', 'PWR', 'QUIT', 'SEGV', 'STKFLT', 'STOP', 'SYS', 'TERM', 'TRAP', 'TSTP', 'TTIN', 'TTOU', 'URG', 'USR1', 'USR2', 'VTALRM', 'WINCH', 'XCPU', 'XFSZ', 'RTMIN', 'RTMAX']);

/** A Linux signal by name (with or without SIG, RTMIN+n / RTMAX-n) or number, as moby's signal parser takes. */
function isSignal(s: string): boolean {
  if (/^\d+$/.test(s)) return Number(s) > 0 && Number(s) <= 64;
  const name = s.toUpperCase().replace(/^SIG/, '');
  return SIGNALS.has(name) || /^RTMIN\+([1-9]|1[0-5])$/.test(name) || /^RTMAX-([1-9]|1[0-4])$/.test(name);
}

/** Go's %v of a string slice: `[a b]`, as BuildKit writes SHELL and VOLUME history. */
function goList(a: string[]): string {
  return `[${a.join(' ')}]`;
}

/** Go's %q-style rendering of a string slice, as BuildKit writes CMD/ENTRYPOINT history. */
function goSlice(a: string[]): string {
  return `[${a.map((s) => JSON.stringify(s)).join(' ')}]`;
}

class Converter {
  private readonly stages: Stage[] = [];
  private readonly globalArgs = new Map<string, string | undefined>();
  private vertexCount = 0;
  /** Numbers default ssh socket paths within a RUN (/run/buildkit/ssh_agent.N). */
  private sshMounts = 0;
  private readonly context: Vertex;
  private readonly multiStage: boolean;

  constructor(private readonly input: FrontendInput, private readonly nodes: Node[], private readonly escape: string) {
    const excludes = input.dockerignore ? parseDockerignore(input.dockerignore) : [];
    const source: ContextSource = { type: 'context', name: 'context', excludes };
    this.context = { id: 'context', op: { kind: 'source', source }, inputs: [], name: '[internal] load build context' };
    this.splitStages();
    this.multiStage = this.stages.length > 1;
  }

  private fail(node: Node, message: string, hint?: string): never {
    throw nodeError(node, this.input.filename, message, hint);
  }

  private loc(node: Node): SourceLocation {
    return locationOf(node, this.input.filename);
  }

  private newVertex(v: Omit<Vertex, 'id'>): Vertex {
    return { id: `v${++this.vertexCount}`, ...v };
  }

  private splitStages(): void {
    let current: Stage | undefined;
    for (const node of this.nodes) {
      if (!(knownInstructions as readonly string[]).includes(node.instruction)) {
        const s = suggestInstruction(node.keyword);
        this.fail(node, `unknown instruction: ${node.keyword}`, s ? `did you mean ${s}?` : undefined);
      }
      if (node.instruction === 'FROM') {
        const words = node.rest.split(/[ \t]+/).filter(Boolean);
        let name: string | undefined;
        if (words.length === 3 && words[1]!.toUpperCase() === 'AS') {
          name = words[2]!.toLowerCase();
          if (!/^[a-z][a-z0-9-_.]*$/.test(name)) this.fail(node, `invalid name for build stage: "${words[2]}", name can't start with a number or contain symbols`);
          if (this.stages.some((s) => s.name === name)) this.fail(node, `duplicate stage name "${name}"`, 'stage names must be unique; rename one of them');
          if (name === 'scratch' || name === 'context') this.fail(node, `"${name}" is a reserved stage name`);
        } else if (words.length !== 1) {
          this.fail(node, 'FROM requires either one or three arguments', 'FROM <image> [AS <name>]');
        }
        current = { name, index: this.stages.length, fromNode: node, nodes: [] };
        this.stages.push(current);
      } else if (!current) {
        if (node.instruction !== 'ARG') {
          this.fail(node, `no build stage in current context: ${node.instruction} must come after a FROM instruction`, 'start the Dockerfile with FROM (only ARG may come before it)');
        }
        for (const [k, v] of this.argPairs(node, new Map())) this.globalArgs.set(k, v);
      } else {
        current.nodes.push(node);
      }
    }
    if (this.stages.length === 0) {
      throw new DockerfileError('the Dockerfile has no FROM instruction', { file: this.input.filename, startLine: 1, endLine: 1 }, 'start the Dockerfile with FROM <image> (or FROM scratch)');
    }
  }

  /** TARGETPLATFORM & co.: predefined in the global scope (a stage must redeclare them). */
  private platformArgs(): Map<string, string> {
    const p = this.input.platform;
    const platform = `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`;
    const m = new Map<string, string>();
    for (const prefix of ['TARGET', 'BUILD']) {
      m.set(`${prefix}PLATFORM`, platform);
      m.set(`${prefix}OS`, p.os);
      m.set(`${prefix}ARCH`, p.architecture);
      m.set(`${prefix}VARIANT`, p.variant ?? '');
    }
    return m;
  }

  /** Global ARG values as seen by FROM lines: defaults overridden by --build-arg. */
  private globalEnv(): Map<string, string> {
    const env = this.platformArgs();
    for (const [k, v] of this.globalArgs) {
      const value = this.input.buildArgs.get(k) ?? v;
      if (value !== undefined) env.set(k, value);
    }
    return env;
  }

  /** Runs a word expansion, reporting its errors at the instruction. */
  private expanding<T>(node: Node, fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      if (e instanceof ExpansionError) this.fail(node, e.message);
      throw e;
    }
  }

  private expand(node: Node, word: string, env: Env): string {
    return this.expanding(node, () => expandWord(word, env, this.escape).value);
  }

  private expandList(node: Node, text: string, env: Env): string[] {
    return this.expanding(node, () => expandWords(text, env, this.escape).words);
  }

  /** ARG a=1 b c=3 → pairs; keys literal, default values expanded in `env`. */
  private argPairs(node: Node, env: Env): Array<[string, string | undefined]> {
    const words = splitWords(node.rest, this.escape);
    if (words.length === 0) this.fail(node, 'ARG requires at least one argument', 'ARG <name>[=<default value>]');
    return words.map((raw) => {
      const eq = raw.indexOf('=');
      const key = eq >= 0 ? raw.slice(0, eq) : raw;
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) this.fail(node, `invalid ARG name "${key}"`, 'ARG names are letters, digits and _ and must not start with a digit');
      return [key, eq >= 0 ? this.expand(node, raw.slice(eq + 1), env) : undefined];
    });
  }

  private stageByName(name: string): Stage | undefined {
    const lower = name.toLowerCase();
    return this.stages.find((s) => s.name === lower);
  }

  async convert(): Promise<FrontendResult> {
    let target = this.stages[this.stages.length - 1]!;
    if (this.input.target) {
      const t = this.stageByName(this.input.target);
      if (!t) {
        const names = this.stages.map((s) => s.name).filter(Boolean);
        throw new DockerfileError(`target stage "${this.input.target}" could not be found`, undefined, names.length ? `stages in ${this.input.filename}: ${names.join(', ')}` : `${this.input.filename} has no named stages (name one with FROM <image> AS <name>)`);
      }
      target = t;
    }
    const state = await this.convertStage(target, []);
    const config: ImageConfig = {
      ...(state.author ? { author: state.author } : {}),
      architecture: state.platform.architecture,
      os: state.platform.os,
      ...(state.platform.variant ? { variant: state.platform.variant } : {}),
      config: state.config,
      rootfs: { type: 'layers', diff_ids: [] },
    };
    return {
      definition: {
        root: state.vertex,
        config,
        history: state.history,
        baseHistory: state.baseHistory,
      },
      warnings: [],
    };
  }

  private stageLabel(stage: Stage): string {
    if (!this.multiStage) return '';
    return `${stage.name ?? `stage-${stage.index}`} `;
  }

  private stepCount(stage: Stage): number {
    return 1 + stage.nodes.filter((n) => ['RUN', 'COPY', 'ADD', 'WORKDIR'].includes(n.instruction)).length;
  }

  private async convertStage(stage: Stage, chain: Stage[]): Promise<StageState> {
    if (stage.state) return stage.state;
    if (chain.includes(stage)) {
      this.fail(stage.fromNode, `circular dependency between stages: ${[...chain, stage].map((s) => s.name ?? `stage-${s.index}`).join(' → ')}`);
    }
    const inChain = [...chain, stage];
    const node = stage.fromNode;
    const globalEnv = this.globalEnv();
    const baseWord = node.rest.split(/[ \t]+/)[0]!;
    const base = this.expand(node, baseWord, globalEnv);
    if (!base) this.fail(node, `base name (${baseWord}) should not be blank`, 'check the ARG used in FROM has a value');
    const platformFlag = flagValue(parseFlags(node, this.input.filename), 'platform');
    if (platformFlag !== undefined) {
      const want = this.expand(node, platformFlag, globalEnv);
      const host = globalEnv.get('BUILDPLATFORM')!;
      if (want.replace(/\/v8$/, '') !== host.replace(/\/v8$/, '')) {
        this.fail(node, `FROM --platform=${want}: building for another platform than ${host} is not supported by this version of tsbuild yet`, 'drop --platform, or use --platform=$BUILDPLATFORM');
      }
    }
    const label = this.stageLabel(stage);
    let step = 1;
    let total = this.stepCount(stage);
    const stepName = (text: string): string => `[${label}${step}/${total}] ${text}`;

    let st: StageState;
    const parentStage = this.stageByName(base);
    if (parentStage && parentStage.index < stage.index) {
      const p = await this.convertStage(parentStage, inChain);
      st = {
        ...p,
        config: structuredClone(p.config),
        env: new Map(p.env),
        args: new Map(p.args),
        shell: [...p.shell],
        history: [...p.history],
        cmdSet: false,
      };
    } else if (parentStage) {
      this.fail(node, `stage "${base}" is defined after this FROM`, 'a stage can only build on stages defined above it');
    } else if (base === 'scratch') {
      const v = this.newVertex({ op: { kind: 'source', source: { type: 'scratch' } }, inputs: [], name: stepName(`FROM scratch`), location: this.loc(node) });
      st = this.freshState(v, { WorkingDir: '/' }, [], this.input.platform);
    } else {
      let img: ResolvedImage;
      try {
        img = await this.input.resolveImage(base);
      } catch (e) {
        const err = e as Error & { hint?: string };
        this.fail(node, err.message, err.hint);
      }
      const v = this.newVertex({ op: { kind: 'source', source: img.source }, inputs: [], name: stepName(`FROM ${img.source.ref}`), location: this.loc(node) });
      const cfg = structuredClone(img.config.config ?? {});
      st = this.freshState(v, cfg, img.config.history ?? [], { os: img.config.os, architecture: img.config.architecture, ...(img.config.variant ? { variant: img.config.variant } : {}) });
    }
    // BuildKit puts a default PATH into every image that lacks one.
    if (!st.env.has('PATH')) {
      st.env.set('PATH', DEFAULT_PATH);
      st.config.Env = envToList(st.env);
    }
    step++;

    // ONBUILD triggers of the base run first, once: the child image does not pass them on.
    const triggers = this.onbuildTriggers(node, st.config.OnBuild ?? []);
    if (st.config.OnBuild) st.config.OnBuild = null;
    total += triggers.filter((n) => ['RUN', 'COPY', 'ADD', 'WORKDIR'].includes(n.instruction)).length;

    for (const n of [...triggers, ...stage.nodes]) {
      const flags = parseFlags(n, this.input.filename);
      const makesVertex = ['RUN', 'COPY', 'ADD', 'WORKDIR'].includes(n.instruction);
      await this.dispatch(n, flags, st, stepName, stage, inChain);
      if (makesVertex) step++;
    }
    stage.state = st;
    return st;
  }

  /** Parses a base image's ONBUILD triggers as instructions located at the FROM line. */
  private onbuildTriggers(from: Node, triggers: string[]): Node[] {
    return triggers.flatMap((t) => {
      let parsed;
      try {
        parsed = parse(t);
      } catch (e) {
        if (e instanceof ParseError) this.fail(from, `invalid ONBUILD trigger "${t}" in the base image: ${e.message}`);
        throw e;
      }
      return parsed.nodes.map((n) => ({ ...n, startLine: from.startLine, endLine: from.endLine, original: `${from.original.split('\n')[0]} (ONBUILD ${t})` }));
    });
  }

  private freshState(vertex: Vertex, config: RunConfig, baseHistory: ImageConfig['history'], platform: Platform): StageState {
    return {
      vertex,
      config,
      env: envFromList(config.Env ?? undefined),
      args: new Map(),
      shell: config.Shell ?? DEFAULT_SHELL,
      history: [],
      baseHistory,
      cmdSet: false,
      platform,
    };
  }

  /** What words in this stage expand against: ARGs in scope, overridden by ENV. */
  private scope(st: StageState): Map<string, string> {
    const m = new Map<string, string>();
    for (const [k, v] of st.args) if (v !== undefined) m.set(k, v);
    for (const [k, v] of st.env) m.set(k, v);
    return m;
  }

  private async dispatch(n: Node, flags: Flags, st: StageState, stepName: (t: string) => string, stage: Stage, chain: Stage[]): Promise<void> {
    const scope = this.scope(st);
    switch (n.instruction) {
      case 'ARG': {
        const pairs = this.argPairs(n, scope);
        for (const [k, def] of pairs) {
          const fromBuild = this.input.buildArgs.get(k);
          const global = this.globalArgs.has(k) || this.platformArgs().has(k) ? this.globalEnv().get(k) : undefined;
          st.args.set(k, fromBuild ?? def ?? global);
        }
        // One history entry per instruction, as BuildKit writes it.
        st.history.push({ createdBy: `ARG ${pairs.map(([k, def]) => `${k}${def !== undefined ? `=${def}` : ''}`).join(' ')}` });
        return;
      }
      case 'ENV': {
        const pairs = this.keyValues(n, scope, 'ENV');
        for (const [k, v] of pairs) st.env.set(k, v);
        st.config.Env = envToList(st.env);
        st.history.push({ createdBy: `ENV ${pairs.map(([k, v]) => `${k}=${v}`).join(' ')}` });
        return;
      }
      case 'LABEL': {
        const pairs = this.keyValues(n, scope, 'LABEL');
        st.config.Labels = { ...(st.config.Labels ?? {}) };
        for (const [k, v] of pairs) st.config.Labels[k] = v;
        st.history.push({ createdBy: `LABEL ${pairs.map(([k, v]) => `${k}=${v}`).join(' ')}` });
        return;
      }
      case 'MAINTAINER': {
        st.author = n.rest.trim();
        st.history.push({ createdBy: `MAINTAINER ${st.author}` });
        return;
      }
      case 'HEALTHCHECK':
        return this.healthcheck(n, flags, st);
      case 'ONBUILD': {
        const trigger = n.rest.trim();
        const word = trigger.split(/\s+/)[0]?.toUpperCase() ?? '';
        if (!word) this.fail(n, 'ONBUILD requires at least one argument', 'ONBUILD <instruction>');
        if (word === 'ONBUILD') this.fail(n, 'Chaining ONBUILD via `ONBUILD ONBUILD` isn\'t allowed');
        if (word === 'FROM' || word === 'MAINTAINER') this.fail(n, `${word} isn't allowed as an ONBUILD trigger`);
        if (!(knownInstructions as readonly string[]).includes(word)) this.fail(n, `unknown instruction in ONBUILD: ${word}`);
        st.config.OnBuild = [...(st.config.OnBuild ?? []), trigger];
        return;
      }
      case 'WORKDIR': {
        const dir = this.expand(n, n.rest.trim(), scope);
        if (!dir) this.fail(n, 'WORKDIR requires exactly one argument', 'WORKDIR /path');
        // An absolute path is kept as written (BuildKit keeps /w/); a relative one is joined and cleaned.
        const abs = dir.startsWith('/') ? dir : path.resolve(st.config.WorkingDir || '/', dir);
        st.config.WorkingDir = abs;
        const chown: Chown | undefined = st.config.User ? splitUser(st.config.User) : undefined;
        if (path.normalize(abs) === '/') {
          // The root always exists: BuildKit makes no step (and no layer) for it.
          st.history.push({ createdBy: `WORKDIR ${abs}` });
          return;
        }
        st.vertex = this.newVertex({
          op: { kind: 'file', actions: [{ type: 'mkdir', path: path.normalize(abs), mode: 0o755, parents: true, ...(chown ? { chown } : {}) }] },
          inputs: [st.vertex],
          name: stepName(`WORKDIR ${abs}`),
          location: this.loc(n),
        });
        st.history.push({ createdBy: `WORKDIR ${abs}`, vertex: st.vertex });
        return;
      }
      case 'USER': {
        const user = this.expand(n, n.rest.trim(), scope);
        if (!user) this.fail(n, 'USER requires exactly one argument', 'USER <user>[:<group>]');
        st.config.User = user;
        st.history.push({ createdBy: `USER ${user}` });
        return;
      }
      case 'EXPOSE': {
        const ports = this.expandList(n, n.rest, scope);
        if (ports.length === 0) this.fail(n, 'EXPOSE requires at least one argument', 'EXPOSE <port>[/<protocol>]');
        st.config.ExposedPorts = { ...(st.config.ExposedPorts ?? {}) };
        const mine: string[] = [];
        for (const p of ports) {
          const m = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/i.exec(p);
          if (!m) this.fail(n, `invalid port "${p}" in EXPOSE`, 'EXPOSE takes <port>[/tcp|/udp] or a range like 8000-8010');
          const proto = (m[3] ?? 'tcp').toLowerCase();
          const from = Number(m[1]);
          const to = m[2] ? Number(m[2]) : from;
          for (let port = from; port <= to; port++) {
            st.config.ExposedPorts[`${port}/${proto}`] = {};
            mine.push(`${port}/${proto}`);
          }
        }
        const keys = [...new Set(mine)].sort();
        st.history.push({ createdBy: `EXPOSE map[${keys.map((k) => `${k}:{}`).join(' ')}]` });
        return;
      }
      case 'CMD':
      case 'ENTRYPOINT': {
        const args = n.json ?? [...st.shell, n.rest];
        if (n.instruction === 'CMD') {
          st.config.Cmd = args;
          // Deprecated in the OCI spec, but BuildKit sets it on every CMD for Docker's sake.
          st.config.ArgsEscaped = true;
          st.cmdSet = true;
        } else {
          st.config.Entrypoint = args;
          if (!st.cmdSet) st.config.Cmd = null;
        }
        st.history.push({ createdBy: `${n.instruction} ${goSlice(args)}` });
        return;
      }
      case 'VOLUME': {
        const vols = n.json ?? this.expandList(n, n.rest, scope);
        if (vols.length === 0) this.fail(n, 'VOLUME requires at least one argument');
        st.config.Volumes = { ...(st.config.Volumes ?? {}) };
        for (const v of vols) st.config.Volumes[this.expand(n, v, scope)] = {};
        st.history.push({ createdBy: `VOLUME ${goList(vols)}` });
        return;
      }
      case 'STOPSIGNAL': {
        const sig = this.expand(n, n.rest.trim(), scope);
        if (!isSignal(sig)) this.fail(n, `invalid signal "${sig}"`, 'use a signal name such as SIGTERM (or TERM) or a number');
        st.config.StopSignal = sig;
        st.history.push({ createdBy: `STOPSIGNAL ${sig}` });
        return;
      }
      case 'SHELL': {
        if (!n.json || n.json.length === 0) this.fail(n, 'SHELL requires the arguments to be in JSON form', 'SHELL ["executable", "parameters"]');
        st.shell = n.json;
        st.config.Shell = n.json;
        st.history.push({ createdBy: `SHELL ${goList(n.json)}` });
        return;
      }
      case 'RUN':
        return this.run(n, flags, st, stepName, stage, chain);
      case 'COPY':
        return this.copy(n, flags, st, stepName, scope, stage, chain);
      case 'ADD':
        return this.copy(n, flags, st, stepName, scope, stage, chain);
      case 'FROM':
        return;
    }
  }

  private healthcheck(n: Node, flags: Flags, st: StageState): void {
    const rest = n.rest.trim();
    const word = rest.split(/\s+/)[0]?.toUpperCase();
    if (word === 'NONE') {
      if (rest.split(/\s+/).length > 1 || flags.size > 0) this.fail(n, 'HEALTHCHECK NONE takes no other arguments');
      st.config.Healthcheck = { Test: ['NONE'] };
      st.history.push({ createdBy: `HEALTHCHECK &{["NONE"] "0s" "0s" "0s" "0s" '\\x00'}` });
      return;
    }
    if (word !== 'CMD') this.fail(n, 'HEALTHCHECK requires CMD or NONE', 'HEALTHCHECK [--interval=30s ...] CMD <command>');
    const cmdText = rest.replace(/^\S+\s*/, '');
    if (!cmdText) this.fail(n, 'HEALTHCHECK CMD needs a command');
    const json = parseJSONForm(cmdText);
    const test = json ? ['CMD', ...json] : ['CMD-SHELL', cmdText];
    const hc: NonNullable<RunConfig['Healthcheck']> = { Test: test };
    const durations: Array<[string, 'Interval' | 'Timeout' | 'StartPeriod' | 'StartInterval']> = [
      ['interval', 'Interval'], ['timeout', 'Timeout'], ['start-period', 'StartPeriod'], ['start-interval', 'StartInterval'],
    ];
    for (const [flag, field] of durations) {
      const v = flagValue(flags, flag);
      if (v === undefined) continue;
      const ns = parseDuration(v);
      if (ns === undefined) this.fail(n, `invalid --${flag} "${v}"`, 'use a duration such as 30s, 1m30s or 500ms');
      if (ns !== 0 && ns < 1e6) this.fail(n, `Interval "--${flag}" cannot be less than 1ms`);
      if (ns) hc[field] = ns;
    }
    const retries = flagValue(flags, 'retries');
    if (retries !== undefined) {
      if (!/^\d+$/.test(retries)) this.fail(n, `invalid --retries "${retries}"`, 'use a whole number');
      if (Number(retries)) hc.Retries = Number(retries);
    }
    st.config.Healthcheck = hc;
    st.history.push({ createdBy: `HEALTHCHECK &{${goSlice(test)} "${formatDuration(hc.Interval)}" "${formatDuration(hc.Timeout)}" "${formatDuration(hc.StartPeriod)}" "${formatDuration(hc.StartInterval)}" '\\x${(hc.Retries ?? 0).toString(16).padStart(2, '0')}'}` });
  }

  /** ENV/LABEL `k=v k2=v2` or legacy `k v`. */
  private keyValues(n: Node, scope: Env, what: string): Array<[string, string]> {
    const words = splitWords(n.rest, this.escape);
    if (words.length === 0) this.fail(n, `${what} requires at least one argument`, `${what} <key>=<value> ...`);
    if (!words[0]!.includes('=')) {
      // Legacy form: the first word is the key, the rest of the line the value.
      const m = /^(\S+)\s+([\s\S]*)$/.exec(n.rest.trim());
      if (!m) this.fail(n, `${what} names can not be blank`, `${what} <key>=<value>`);
      return [[this.expand(n, m[1]!, scope), this.expand(n, m[2]!, scope)]];
    }
    return words.map((w) => {
      const eq = w.indexOf('=');
      if (eq < 0) this.fail(n, `${what} ${w}: missing "=" (every word must be key=value)`, `${what} ${w}=<value>`);
      const key = this.expand(n, w.slice(0, eq), scope);
      if (!key) this.fail(n, `${what} names can not be blank`);
      return [key, this.expand(n, w.slice(eq + 1), scope)] as [string, string];
    });
  }

  private async run(n: Node, flags: Flags, st: StageState, stepName: (t: string) => string, stage: Stage, chain: Stage[]): Promise<void> {
    let args: string[];
    let display: string;
    const mounts: ExecMount[] = [];
    const inputs: Vertex[] = [st.vertex];
    if (n.json) {
      args = n.json;
      display = n.json.join(' ');
    } else if (n.heredocs.length > 0) {
      const only = n.heredocs.length === 1 && new RegExp(`^<<-?\\s*(["']?)${escapeRegExp(n.heredocs[0]!.name)}\\1\\s*$`).test(n.rest.trim());
      const h = n.heredocs[0]!;
      if (only && h.content.startsWith('#!')) {
        // A script with its own interpreter: BuildKit mounts it as a file and runs it.
        const target = `/dev/pipes/${h.name}`;
        mounts.push({ type: 'file', target, data: h.content, mode: 0o755 });
        args = [target];
      } else if (only) {
        // The shell runs the document itself (expansion is the shell's business).
        args = [...st.shell, h.content];
      } else {
        // Heredocs among other words: hand the shell the whole text to parse.
        args = [...st.shell, n.rest + n.heredocs.map((d) => `\n${d.content}${d.name}`).join('')];
      }
      display = n.rest;
    } else {
      args = [...st.shell, n.rest];
      display = `${st.shell.join(' ')} ${n.rest}`;
    }
    const network = flagValue(flags, 'network') ?? 'default';
    if (!['default', 'none', 'host'].includes(network)) this.fail(n, `invalid --network value "${network}"`, 'use --network=default, none or host');
    const security = flagValue(flags, 'security') ?? 'sandbox';
    if (!['sandbox', 'insecure'].includes(security)) this.fail(n, `invalid --security value "${security}"`, 'use --security=sandbox or insecure');
    // ARGs reach RUN as environment (ENV of the same name wins); proxies even undeclared.
    const env = new Map<string, string>();
    const argEnv: string[] = [];
    for (const [k, v] of st.args) {
      if (v !== undefined && !st.env.has(k)) env.set(k, v);
      // History lists every declared ARG; an ENV of the same name shows its value.
      argEnv.push(`${k}=${st.env.get(k) ?? v ?? ''}`);
    }
    for (const p of PROXY_ARGS) {
      const v = this.input.buildArgs.get(p);
      if (v !== undefined && !st.args.has(p)) env.set(p, v);
    }
    for (const [k, v] of st.env) env.set(k, v);
    const scope = this.scope(st);
    this.sshMounts = 0;
    for (const spec of flags.get('mount') ?? []) {
      const m = await this.mount(n, this.expand(n, spec, scope), inputs, stage, chain);
      if (m) mounts.push(m);
    }
    const cwd = st.config.WorkingDir || '/';
    for (const m of mounts) if ('target' in m && m.target && !m.target.startsWith('/')) m.target = path.resolve(cwd, m.target);
    st.vertex = this.newVertex({
      op: {
        kind: 'exec',
        args,
        env: envToList(env),
        cwd,
        user: st.config.User ?? '',
        network: network as 'default' | 'none' | 'host',
        hostname: HOSTNAME,
        ...(mounts.length ? { mounts } : {}),
        ...(security === 'insecure' ? { insecure: true } : {}),
      },
      inputs,
      name: stepName(`RUN ${display.replace(/\n/g, '\\n')}`.replace(/^RUN \/bin\/sh -c /, 'RUN ')),
      location: this.loc(n),
    });
    const argPrefix = argEnv.length ? `|${argEnv.length} ${argEnv.join(' ')} ` : '';
    st.history.push({ createdBy: `RUN ${argPrefix}${n.heredocs.length ? `${st.shell.join(' ')} ${n.rest}` : display} # buildkit`, vertex: st.vertex });
  }

  /** One --mount=type=...,target=... flag. `inputs` gains the vertices mounts read from. */
  private async mount(n: Node, spec: string, inputs: Vertex[], stage: Stage, chain: Stage[]): Promise<ExecMount | undefined> {
    const fields = new Map<string, string>();
    for (const part of splitCSV(spec)) {
      const eq = part.indexOf('=');
      const key = (eq < 0 ? part : part.slice(0, eq)).trim().toLowerCase();
      const value = eq < 0 ? 'true' : part.slice(eq + 1);
      const known = ['type', 'target', 'dst', 'destination', 'source', 'src', 'from', 'id', 'sharing', 'mode', 'uid', 'gid', 'required', 'ro', 'readonly', 'rw', 'readwrite', 'size', 'env'];
      if (!known.includes(key)) this.fail(n, `unexpected key '${key}' in '${part}' for --mount`, `--mount takes ${known.join(', ')}`);
      fields.set(key, value);
    }
    const type = fields.get('type') ?? 'bind';
    const target = fields.get('target') ?? fields.get('dst') ?? fields.get('destination');
    const bool = (k: string): boolean | undefined => {
      const v = fields.get(k);
      if (v === undefined) return undefined;
      if (!/^(true|false|1|0)$/i.test(v)) this.fail(n, `invalid value "${v}" for ${k} in --mount`, 'use true or false');
      return /^(true|1)$/i.test(v);
    };
    const num = (k: string, def: number, base = 10): number => {
      const v = fields.get(k);
      if (v === undefined) return def;
      const x = parseInt(v, base);
      if (!/^\d+$/.test(v) || Number.isNaN(x)) this.fail(n, `invalid value "${v}" for ${k} in --mount`);
      return x;
    };
    const readonlyFlag = bool('ro') ?? bool('readonly');
    const rw = bool('rw') ?? bool('readwrite');
    const fromInput = async (defaultContext: boolean): Promise<number | undefined> => {
      const from = fields.get('from');
      if (from === undefined) {
        if (!defaultContext) return undefined;
        inputs.push(this.context);
        return inputs.length - 1;
      }
      inputs.push(await this.stageOrImage(n, from, stage, chain));
      return inputs.length - 1;
    };
    switch (type) {
      case 'bind': {
        if (!target) this.fail(n, '--mount type=bind needs a target', '--mount=type=bind,source=.,target=/src');
        const from = (await fromInput(true))!;
        return { type: 'bind', target, from, source: fields.get('source') ?? fields.get('src') ?? '/', readonly: rw === true ? false : readonlyFlag ?? true };
      }
      case 'cache': {
        if (!target) this.fail(n, '--mount type=cache needs a target', '--mount=type=cache,target=/root/.cache');
        const sharing = fields.get('sharing') ?? 'shared';
        if (!['shared', 'private', 'locked'].includes(sharing)) this.fail(n, `invalid sharing "${sharing}" for --mount type=cache`, 'use shared, private or locked');
        const from = await fromInput(false);
        return {
          type: 'cache',
          target,
          id: fields.get('id') ?? target,
          sharing: sharing as 'shared' | 'private' | 'locked',
          readonly: readonlyFlag ?? false,
          mode: num('mode', 0o755, 8),
          uid: num('uid', 0),
          gid: num('gid', 0),
          ...(from !== undefined ? { from, source: fields.get('source') ?? fields.get('src') ?? '/' } : {}),
        };
      }
      case 'tmpfs': {
        if (!target) this.fail(n, '--mount type=tmpfs needs a target', '--mount=type=tmpfs,target=/tmp');
        const size = fields.get('size');
        const bytes = size === undefined ? undefined : parseSize(size);
        if (size !== undefined && bytes === undefined) this.fail(n, `invalid size "${size}" in --mount`, 'use bytes or a suffix such as 64m');
        return { type: 'tmpfs', target, ...(bytes !== undefined ? { size: bytes } : {}) };
      }
      case 'secret': {
        const id = fields.get('id') ?? (target ? path.basename(target) : undefined);
        if (!id) this.fail(n, '--mount type=secret needs an id or a target', '--mount=type=secret,id=npmrc,target=/root/.npmrc');
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
      case 'ssh': {
        return {
          type: 'ssh',
          id: fields.get('id') ?? 'default',
          target: target ?? `/run/buildkit/ssh_agent.${this.sshMounts++}`,
          required: bool('required') ?? false,
        };
      }
      default:
        this.fail(n, `unsupported mount type "${type}"`, 'use bind, cache, tmpfs, secret or ssh');
    }
    throw new Error('unreachable');
  }

  /** A --from value: a stage (by name or index) or an image. */
  private async stageOrImage(n: Node, name: string, stage: Stage, chain: Stage[]): Promise<Vertex> {
    const src: Stage | undefined = /^\d+$/.test(name) ? this.stages[Number(name)] : this.stageByName(name);
    if (src === stage) this.fail(n, `--from=${name} refers to the stage it is in`, 'copy or mount from an earlier stage');
    if (src && src.index > stage.index) this.fail(n, `cannot copy from stage "${name}", it needs to be defined before current stage "${stage.name ?? `stage-${stage.index}`}"`, 'move that stage above this one');
    if (/^\d+$/.test(name) && (!src || src.index >= stage.index)) this.fail(n, `invalid stage index ${name} in --from`, `use an index below ${stage.index}`);
    if (src) return (await this.convertStage(src, chain)).vertex;
    let img: ResolvedImage;
    try {
      img = await this.input.resolveImage(name);
    } catch (e) {
      const err = e as Error & { hint?: string };
      this.fail(n, err.message, err.hint ?? `--from=${name} is neither a stage of this Dockerfile nor an image`);
    }
    return this.newVertex({ op: { kind: 'source', source: img.source }, inputs: [], name: `[internal] load image ${img.source.ref}`, location: this.loc(n) });
  }

  /** COPY and ADD: sources from the context, a stage or image, heredocs, or (ADD) URLs. */
  private async copy(n: Node, flags: Flags, st: StageState, stepName: (t: string) => string, scope: Map<string, string>, stage: Stage, chain: Stage[]): Promise<void> {
    const what = n.instruction;
    const isAdd = what === 'ADD';
    const words = n.json ? n.json.map((w) => this.expand(n, w, scope)) : this.expandList(n, n.rest, scope);
    if (words.length < 2) this.fail(n, `${what} requires at least two arguments, but only one was provided`, `${what} <src>... <dest>`);
    const dest0 = words[words.length - 1]!;
    const srcs = words.slice(0, -1);
    const wd = st.config.WorkingDir || '/';
    let dest = dest0.startsWith('/') ? dest0 : path.join(wd, dest0);
    if ((dest0.endsWith('/') || dest0 === '.' || dest0.endsWith('/.')) && !dest.endsWith('/')) dest += '/';

    // Heredoc sources (`COPY <<EOF /file`) become files named after their delimiter.
    const heredocSource = (w: string): string | undefined => /^<<-?(["']?)([^"'\s]+)\1$/.exec(w)?.[2];
    const inline = srcs.flatMap((w) => {
      const name = heredocSource(w);
      if (!name) return [];
      const h = n.heredocs.find((d) => d.name === name);
      if (!h) this.fail(n, `no heredoc named ${name}`);
      return [{ name, data: h.expand ? this.expandHeredoc(n, h.content, scope) : h.content }];
    });
    if (inline.length && inline.length !== srcs.length) this.fail(n, `${what} cannot mix heredocs and other sources yet`, 'use one instruction for each');

    const gitUrls = srcs.filter(isGitURL);
    const urls = srcs.filter((s) => /^https?:\/\//.test(s) && !isGitURL(s));
    if (!isAdd && (urls.length || gitUrls.length)) this.fail(n, 'COPY cannot copy from a URL', 'use ADD for URLs');
    if ((urls.length || gitUrls.length) && urls.length + gitUrls.length !== srcs.length) this.fail(n, 'ADD cannot mix URLs and local sources yet', 'use one ADD for each');
    if (gitUrls.length > 1 || (gitUrls.length && urls.length)) this.fail(n, 'ADD of several remote sources in one instruction is not supported yet', 'use one ADD per URL');

    let fromVertex = this.context;
    const from = flagValue(flags, 'from');
    if (from !== undefined) {
      const name = this.expand(n, from, scope);
      if (!name) this.fail(n, '--from requires a stage name, index or image');
      fromVertex = await this.stageOrImage(n, name, stage, chain);
    } else if (gitUrls.length) {
      const { remote, ref, subdir } = splitGitURL(gitUrls[0]!);
      const keep = flagValue(flags, 'keep-git-dir');
      fromVertex = this.newVertex({
        op: { kind: 'source', source: { type: 'git', remote, ...(ref ? { ref } : {}), ...(subdir ? { subdir } : {}), keepGitDir: keep !== undefined && keep !== 'false' } },
        inputs: [],
        name: `[internal] load git source ${gitUrls[0]}`,
        location: this.loc(n),
      });
    } else if (urls.length) {
      const checksum = flagValue(flags, 'checksum');
      if (checksum !== undefined && !/^sha256:[a-f0-9]{64}$/.test(this.expand(n, checksum, scope))) {
        this.fail(n, `invalid --checksum "${checksum}"`, 'use sha256:<64 hex digits>');
      }
      if (urls.length > 1) this.fail(n, 'ADD of several URLs in one instruction is not supported yet', 'use one ADD per URL');
      const url = urls[0]!;
      fromVertex = this.newVertex({
        op: { kind: 'source', source: { type: 'http', url, filename: remoteFileName(url), ...(checksum ? { checksum: this.expand(n, checksum, scope) as `sha256:${string}` } : {}) } },
        inputs: [],
        name: `[internal] load remote file ${url}`,
        location: this.loc(n),
      });
    } else if (!inline.length) {
      for (const s of srcs) {
        if (path.normalize(s).startsWith('..')) {
          this.fail(n, `${what} source "${s}" is outside the build context`, 'paths are relative to the context directory; move the file into the context or use a parent directory as the context');
        }
      }
    }

    const chownRaw = flagValue(flags, 'chown');
    const chown = chownRaw !== undefined ? splitUser(this.expand(n, chownRaw, scope)) : undefined;
    const chmodRaw = flagValue(flags, 'chmod');
    let chmod: FileMode | undefined;
    if (chmodRaw !== undefined) {
      const c = this.expand(n, chmodRaw, scope);
      chmod = parseFileMode(c);
      if (!chmod) this.fail(n, `invalid --chmod value "${c}"`, 'use an octal mode such as 755, or a symbolic one such as u=rwX,go=rX');
    }
    const excludes = (flags.get('exclude') ?? []).map((e) => this.expand(n, e, scope));
    const parents = flags.has('parents') && flagValue(flags, 'parents') !== 'false';
    const unpackFlag = flagValue(flags, 'unpack');
    // ADD unpacks local archives; URLs only with --unpack (BuildKit's rule).
    const unpack = isAdd && (unpackFlag === undefined ? urls.length === 0 : unpackFlag !== 'false');
    const action: CopyAction = {
      type: 'copy',
      from: 1,
      src: gitUrls.length ? ['/'] : urls.length ? [remoteFileName(urls[0]!)] : inline.length ? inline.map((i) => i.name) : srcs,
      dest,
      ...(chown ? { chown } : {}),
      ...(chmod !== undefined ? { chmod } : {}),
      ...(excludes.length ? { excludes } : {}),
      ...(inline.length ? { inline } : {}),
      ...(unpack ? { unpack } : {}),
      ...(parents ? { parents } : {}),
    };
    const flagText = n.flags.length ? `${n.flags.join(' ')} ` : '';
    st.vertex = this.newVertex({
      op: { kind: 'file', actions: [action] },
      inputs: inline.length ? [st.vertex] : [st.vertex, fromVertex],
      name: stepName(`${what} ${flagText}${srcs.join(' ')} ${dest0}`),
      location: this.loc(n),
    });
    if (inline.length) action.from = 0;
    st.history.push({ createdBy: `${what} ${srcs.join(' ')} ${dest0} # buildkit`, vertex: st.vertex });
  }

  /** Unquoted heredoc delimiters expand ARG/ENV in the document (quotes and escapes stay). */
  private expandHeredoc(n: Node, content: string, scope: Env): string {
    return this.expanding(n, () => expandHeredoc(content, scope, this.escape).value);
  }
}

const durationUnits: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** Go's time.ParseDuration, in nanoseconds. */
export function parseDuration(s: string): number | undefined {
  if (s === '0') return 0;
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let pos = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    total += Number(m[1]) * durationUnits[m[2]!]!;
    pos = re.lastIndex;
  }
  return pos === s.length && s.length > 0 ? Math.round(total) : undefined;
}

/** Go's Duration.String(): 1m30s, 500ms, 0s. */
export function formatDuration(ns: number | undefined): string {
  if (!ns) return '0s';
  if (ns < 1e3) return `${ns}ns`;
  if (ns < 1e6) return `${ns / 1e3}µs`;
  if (ns < 1e9) return `${ns / 1e6}ms`;
  let rest = ns / 1e9;
  const h = Math.floor(rest / 3600);
  rest -= h * 3600;
  const m = Math.floor(rest / 60);
  rest -= m * 60;
  return `${h ? `${h}h` : ''}${h || m ? `${m}m` : ''}${Number(rest.toFixed(9))}s`;
}

/** BuildKit's git URL forms: git@host:path, git://, ssh://, or http(s) ending in .git (each with #ref:subdir). */
function isGitURL(s: string): boolean {
  const base = s.split('#')[0]!;
  return /^git@[^:]+:/.test(s) || /^(git|ssh|git\+ssh):\/\//.test(s) || (/^https?:\/\//.test(s) && /\.git\/?$/.test(base));
}

/** `remote#ref:subdir` → its parts. */
function splitGitURL(s: string): { remote: string; ref?: string; subdir?: string } {
  const hash = s.indexOf('#');
  if (hash < 0) return { remote: s };
  const [ref, subdir] = s.slice(hash + 1).split(':', 2);
  return { remote: s.slice(0, hash), ...(ref ? { ref } : {}), ...(subdir ? { subdir } : {}) };
}

/** The file name ADD gives a download: the URL's last path segment. */
function remoteFileName(url: string): string {
  const name = path.basename(new URL(url).pathname);
  return name && name !== '/' ? decodeURIComponent(name) : 'index.html';
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

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

/** tmpfs sizes: bytes, or with a k/m/g suffix as docker's units accept. */
function parseSize(v: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?$/i.exec(v.trim());
  if (!m) return undefined;
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  return Math.round(Number(m[1]) * mult);
}

function splitUser(s: string): Chown {
  const i = s.indexOf(':');
  return i >= 0 ? { user: s.slice(0, i), group: s.slice(i + 1) } : { user: s };
}


type CheckInput = Pick<FrontendInput, 'dockerfile' | 'filename' | 'dockerignore' | 'buildArgs' | 'target'>;

/** Parses, turning parser errors into located Dockerfile errors; then runs the build checks. */
function parseAndLint(input: CheckInput, allStages: boolean): { parsed: ParseResult; checks: LintResult } {
  let parsed: ParseResult;
  try {
    parsed = parse(input.dockerfile);
  } catch (e) {
    if (e instanceof ParseError) {
      throw new DockerfileError(e.message, { file: input.filename, startLine: e.line, endLine: e.line }, e.hint, e.source);
    }
    throw e;
  }
  const checks = lint(parsed, {
    filename: input.filename,
    buildArgs: input.buildArgs,
    target: input.target,
    allStages,
    dockerignore: input.dockerignore ? parseDockerignore(input.dockerignore) : undefined,
    source: input.dockerfile,
  });
  return { parsed, checks };
}

export async function convertDockerfile(input: FrontendInput): Promise<FrontendResult> {
  const { parsed, checks } = parseAndLint(input, false);
  const c = new Converter(input, parsed.nodes, parsed.directives.escape);
  const result = await c.convert();
  result.warnings = checks.warnings;
  result.violation = lintViolation(checks);
  if (parsed.directives.syntax) {
    // BuildKit would fetch that frontend image; tsbuild always uses its own frontend.
    result.warnings.push({
      rule: 'SyntaxDirectiveIgnored',
      message: `the syntax directive (${parsed.directives.syntax}) is ignored: tsbuild builds with its own Dockerfile frontend`,
      location: { file: input.filename, startLine: 1, endLine: 1 },
    });
  }
  return result;
}

/** `build --check`: the build checks alone, over every stage unless a target is named. */
export function checkDockerfile(input: CheckInput): LintResult {
  return parseAndLint(input, !input.target).checks;
}

/** The Dockerfile frontend, as the engine calls it. */
export const dockerfileFrontend: Frontend = {
  build: convertDockerfile,
  check: async (input) => {
    const r = checkDockerfile(input);
    const violation = lintViolation(r);
    return { warnings: r.warnings, ...(violation !== undefined ? { violation } : {}) };
  },
};
