// The dispatch walk, as BuildKit's dispatchStages: the planned stages in file order, each from its
// base, instruction by instruction, emitting the op graph and feeding the checks as it goes. The
// same walk serves a build (the target's graph) and --check (the warnings of every stage).
import path from 'node:path/posix';
import type { FilesContext } from '../builder/frontend.js';
import type { ContextSource, ExecDefaults, Op, Source, Vertex } from '../builder/graph.js';
import type { SourceLocation } from '../common/errors.js';
import type { ImageConfig, Platform, RunConfig } from '../common/oci.js';
import { PatternMatcher } from '../common/patterns.js';
import { formatPlatform } from '../common/platform.js';
import { Scope } from './args.js';
import { baseImagePlatform } from './checks/from.js';
import { InstructionChecks } from './checks/instruction.js';
import type { Checks } from './checks/rules.js';
import { dispatchCopy } from './copy.js';
import { DockerfileError } from './errors.js';
import { expandHeredocAt, expandWordAt, expandWordsAt } from './expand.js';
import type { Instruction } from './instructions.js';
import {
  dispatchArg, dispatchCommand, dispatchExpose, dispatchHealthcheck, dispatchKeyValues, dispatchOnbuild, dispatchShell, dispatchVolume, dispatchWord, dispatchWorkdir, envToList,
} from './metadata.js';
import { imageKey, resolveSourceRef, triggersOf, type Images, type Plan } from './plan.js';
import { dispatchRun } from './run.js';
import { displayName, type Stage } from './stages.js';
import { DEFAULT_SHELL, type Dispatch, type StageState } from './state.js';

/** BuildKit puts this PATH into every image that lacks one. */
const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface WalkInput {
  plan: Plan;
  images: Images;
  /** The stages to dispatch (neededStages), in file order. */
  stages: readonly Stage[];
  checks: Checks;
  buildArgs: ReadonlyMap<string, string>;
  platform: Platform;
  /** One of several platforms built together: vertex ids and step names carry the platform. */
  multiPlatform?: boolean;
  /** .dockerignore patterns, as parseDockerignore returns them. */
  excludes: readonly string[];
  exec?: ExecDefaults;
}

/** The instructions that are steps of a stage (progress counts them), whether or not they add a vertex. */
const STEPS = new Set(['RUN', 'COPY', 'ADD', 'WORKDIR']);

function envFromList(list: readonly string[] | null | undefined): Map<string, string> {
  const m = new Map<string, string>();
  for (const kv of list ?? []) {
    const eq = kv.indexOf('=');
    if (eq > 0) m.set(kv.slice(0, eq), kv.slice(eq + 1));
  }
  return m;
}

/** CopyIgnoredFile's test of a COPY source as written (`./x`, `/x`, `dir/`): the context walk's matcher on the cleaned path. */
function ignoredBy(matcher: PatternMatcher): (src: string) => boolean {
  return (src) => {
    const rel = path.normalize(src).replace(/^\/+/, '').replace(/\/+$/, '');
    return rel !== '' && rel !== '.' && matcher.matches(rel);
  };
}

/** Runs the walk; the state of every dispatched stage. */
export function walk(input: WalkInput): Map<Stage, StageState> {
  return new Walk(input).run();
}

class Walk {
  readonly states = new Map<Stage, StageState>();
  readonly context: Vertex;
  private readonly ignored?: (file: string) => boolean;
  private vertices = 0;
  /** The source vertex of each named context of files (--build-context NAME=DIR|URL), made once. */
  private readonly locals = new Map<string, Vertex>();

  constructor(readonly input: WalkInput) {
    const source: ContextSource = { type: 'context', name: 'context', excludes: [...input.excludes] };
    this.context = { id: 'context', op: { kind: 'source', source }, inputs: [], name: '[internal] load build context' };
    if (input.excludes.length) this.ignored = ignoredBy(new PatternMatcher(input.excludes));
  }

  run(): Map<Stage, StageState> {
    for (const stage of this.input.stages) this.states.set(stage, this.dispatchStage(stage));
    return this.states;
  }

  newVertex({ op, inputs, name, location, platform }: Omit<Vertex, 'id'>): Vertex {
    // The graphs of a multi-platform build are solved together: their ids must not meet.
    const id = this.input.multiPlatform ? `${formatPlatform(this.input.platform)}/v${++this.vertices}` : `v${++this.vertices}`;
    return { id, op, inputs, name, location, ...(platform ? { platform } : {}) };
  }

  /**
   * A named context's files: a directory read in place as the build context is (without its
   * .dockerignore), or a git repository or file fetched as ADD fetches it.
   */
  filesContext(c: FilesContext): Vertex {
    let v = this.locals.get(c.name);
    if (!v) {
      const source: Source = c.kind === 'dir' ? { type: 'context', name: c.name, dir: c.dir, excludes: [] } : c.source;
      v = this.newVertex({ op: { kind: 'source', source }, inputs: [], name: c.kind === 'dir' ? `[internal] load build context ${c.name}` : `[context ${c.name}] ${c.url}` });
      this.locals.set(c.name, v);
    }
    return v;
  }

  private dispatchStage(stage: Stage): StageState {
    const { plan, images } = this.input;
    const triggers = triggersOf(plan, stage, images);
    // A stage a named context replaces is that context alone.
    const instructions = plan.plans[stage.index]!.replaced ? [] : [...triggers, ...stage.instructions];
    const label = `${this.input.multiPlatform ? `${formatPlatform(plan.plans[stage.index]!.platform ?? this.input.platform)} ` : ''}${plan.stages.length > 1 ? `${displayName(stage)} ` : ''}`;
    const total = 1 + instructions.filter((i) => STEPS.has(i.kind)).length;
    let step = 1;
    const stepName = (text: string): string => `[${label}${step}/${total}] ${text}`;
    const state = this.baseState(stage, stepName);
    step++;
    if (!state.scope.env.has('PATH')) {
      state.scope.setEnv('PATH', DEFAULT_PATH);
      state.envEdited = true;
    }
    // The base's triggers run here, once: this stage does not pass them on.
    if (state.config.OnBuild) state.config.OnBuild = null;
    const d = new Step(this, stage, state, new InstructionChecks(this.input.checks, this.ignored), stepName);
    for (const i of instructions) {
      d.instruction = i;
      d.undefinedNames = undefined;
      dispatch(d);
      if (STEPS.has(i.kind)) step++;
    }
    if (state.envEdited) state.config.Env = envToList(state.scope.env);
    return state;
  }

  /** The stage's state before its instructions: from the stage it builds on, scratch or an image. */
  private baseState(stage: Stage, stepName: (text: string) => string): StageState {
    const { plan, images } = this.input;
    const { base, baseName, platform: wanted } = plan.plans[stage.index]!;
    const { location } = stage.from;
    const fail = (message: string, hint: string): never => {
      throw new DockerfileError('TSB_DOCKERFILE_INVALID', message, { location, hint });
    };
    // FROM --platform: this stage is for that platform (e.g. $BUILDPLATFORM, to cross-compile).
    const platform = wanted ?? this.input.platform;
    const source = (s: Source, name: string): Vertex => this.newVertex({ op: { kind: 'source', source: s }, inputs: [], name, location });
    switch (base.kind) {
      case 'later':
        return fail(`stage "${baseName}" is defined after this FROM`, 'a stage can only build on stages defined above it');
      case 'stage': {
        const p = this.states.get(base.stage)!;
        return { ...p, config: structuredClone(p.config), scope: p.scope.clone(), shell: [...p.shell], history: [...p.history], cmdSet: false, envEdited: false };
      }
      case 'scratch':
        return fresh(source({ type: 'scratch' }, stepName('FROM scratch')), { WorkingDir: '/' }, [], platform, true);
      case 'files': {
        // Named files as a stage's filesystem: copied onto scratch, so RUN can write over them.
        const root = source({ type: 'scratch' }, '[internal] scratch');
        const copy: Op = { kind: 'file', actions: [{ type: 'copy', from: 1, src: ['/'], dest: '/' }] };
        const vertex = this.newVertex({ op: copy, inputs: [root, this.filesContext(base.context)], name: stepName(`FROM ${base.context.name}`), location });
        return fresh(vertex, { WorkingDir: '/' }, [], platform, true);
      }
      case 'image': {
        const img = images.get(imageKey(base.ref, wanted));
        // Unresolved only in --check without an image resolver: nothing is solved, the env is unknown.
        if (!img) return fresh(source({ type: 'scratch' }, stepName(`FROM ${base.ref}`)), {}, [], platform, false);
        baseImagePlatform(this.input.checks, stage, baseName, img, platform);
        const { config } = img;
        const imagePlatform = { os: config.os, architecture: config.architecture, ...(config.variant ? { variant: config.variant } : {}) };
        return fresh(source(img.source, stepName(`FROM ${img.source.ref}`)), structuredClone(config.config ?? {}), config.history ?? [], imagePlatform, true);
      }
    }
  }
}

function fresh(vertex: Vertex, config: RunConfig, baseHistory: ImageConfig['history'], platform: Platform, envKnown: boolean): StageState {
  return {
    vertex,
    config,
    scope: new Scope(new Map(), envFromList(config.Env)),
    shell: config.Shell ?? DEFAULT_SHELL,
    history: [],
    baseHistory,
    cmdSet: false,
    platform,
    envKnown,
    workdirSet: false,
    envEdited: false,
  };
}

/** The instruction being dispatched in a stage (one object per stage, moved along its instructions). */
class Step implements Dispatch {
  instruction!: Instruction;
  /** Names already reported as undefined for this instruction. */
  undefinedNames: Set<string> | undefined;
  readonly buildArgs: ReadonlyMap<string, string>;
  readonly exec: ExecDefaults;
  readonly globals: ReadonlyMap<string, string>;
  readonly context: Vertex;
  private readonly escape: string;

  constructor(
    private readonly walk: Walk,
    private readonly stage: Stage,
    readonly state: StageState,
    readonly checks: InstructionChecks,
    private readonly stepName: (text: string) => string,
  ) {
    this.buildArgs = walk.input.buildArgs;
    this.exec = walk.input.exec ?? {};
    this.globals = walk.input.plan.globals;
    this.context = walk.context;
    this.escape = walk.input.plan.escape;
  }

  private get location(): SourceLocation {
    return this.instruction.location;
  }

  /** UndefinedVar as BuildKit reports it: at the use, against the scope of that moment. */
  private used(unmatched: ReadonlySet<string>): void {
    if (unmatched.size === 0) return;
    for (const name of unmatched) {
      this.undefinedNames ??= new Set();
      if (this.undefinedNames.has(name)) continue;
      this.undefinedNames.add(name);
      this.checks.undefinedVar(name, this.location, this.state.scope, this.state.envKnown);
    }
  }

  expand(word: string): string {
    const r = expandWordAt(word, this.state.scope, this.escape, this.location);
    this.used(r.unmatched);
    return r.value;
  }

  expandWords(text: string): string[] {
    const r = expandWordsAt(text, this.state.scope, this.escape, this.location);
    this.used(r.unmatched);
    return r.words;
  }

  expandHeredoc(text: string): string {
    const r = expandHeredocAt(text, this.state.scope, this.escape, this.location);
    this.used(r.unmatched);
    return r.value;
  }

  fail(message: string, hint: string): never {
    throw new DockerfileError('TSB_DOCKERFILE_INVALID', message, { location: this.location, hint });
  }

  commit(op: Op, inputs: Vertex[], text: string): Vertex {
    // A RUN says which platform's binaries it runs (the solver checks emulation for it).
    const platform = op.kind === 'exec' ? { platform: this.state.platform } : {};
    this.state.vertex = this.walk.newVertex({ op, inputs, name: this.stepName(text), location: this.location, ...platform });
    return this.state.vertex;
  }

  source(source: Source, name: string): Vertex {
    return this.walk.newVertex({ op: { kind: 'source', source }, inputs: [], name, location: this.location });
  }

  from(value: string): Vertex {
    const { plan, images } = this.walk.input;
    const { stage } = this;
    const ref = resolveSourceRef(plan.stages, plan.namedContext, value);
    if (ref.kind === 'files') return this.walk.filesContext(ref.context);
    if (ref.kind === 'image') {
      // (unresolved only in --check without an image resolver, where nothing is solved)
      const img = images.get(ref.ref);
      return this.source(img ? img.source : { type: 'scratch' }, `[internal] load image ${img ? img.source.ref : ref.ref}`);
    }
    const src = ref.stage;
    if (!src) return this.fail(`invalid stage index ${value} in --from`, `use an index below ${stage.index}`);
    if (src === stage) this.fail(`--from=${value} refers to the stage it is in`, 'copy or mount from an earlier stage');
    if (src.index > stage.index) this.fail(`cannot copy from stage "${value}", it needs to be defined before current stage "${displayName(stage)}"`, 'move that stage above this one');
    return this.walk.states.get(src)!.vertex;
  }
}

/** Hands the instruction to what dispatches its kind. */
function dispatch(d: Step): void {
  const i = d.instruction;
  switch (i.kind) {
    case 'ARG':
      return dispatchArg(d, i);
    case 'ENV':
    case 'LABEL':
      return dispatchKeyValues(d, i);
    case 'RUN':
      return dispatchRun(d, i);
    case 'CMD':
    case 'ENTRYPOINT':
      return dispatchCommand(d, i);
    case 'COPY':
    case 'ADD':
      return dispatchCopy(d, i);
    case 'WORKDIR':
      return dispatchWorkdir(d, i);
    case 'USER':
    case 'STOPSIGNAL':
    case 'MAINTAINER':
      return dispatchWord(d, i);
    case 'EXPOSE':
      return dispatchExpose(d, i);
    case 'VOLUME':
      return dispatchVolume(d, i);
    case 'SHELL':
      return dispatchShell(d, i);
    case 'HEALTHCHECK':
      return dispatchHealthcheck(d, i);
    case 'ONBUILD':
      return dispatchOnbuild(d, i);
    case 'FROM':
      return;
  }
}
