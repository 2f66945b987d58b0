// The plan of a walk, as BuildKit sets up its dispatch states before dispatching any: the global
// ARG values FROM lines see, each stage's base and platform, the target, and which stages the
// target needs and which images those use. The FROM-level checks run here, for every stage.
import type { FilesContext, NamedContext, ResolvedImage } from '../builder/frontend.js';
import type { SourceLocation } from '../common/errors.js';
import type { Platform } from '../common/oci.js';
import { formatPlatform, parsePlatform, samePlatform } from '../common/platform.js';
import { automaticArgs, globalArgValues } from './args.js';
import { defaultArgsInFrom, fromChecks } from './checks/from.js';
import type { Checks } from './checks/rules.js';
import { DockerfileError } from './errors.js';
import { expandWordAt } from './expand.js';
import { parseTriggers, type Instruction } from './instructions.js';
import { sourceRef, sourcesOf, stageByName, type SourceRef, type Stage, type Stages } from './stages.js';

/** What a stage starts from. `later`: a stage defined further down (an error when dispatched). */
export type Base = { kind: 'scratch' } | { kind: 'stage'; stage: Stage } | { kind: 'later' } | { kind: 'image'; ref: string } | { kind: 'files'; context: FilesContext };

/** A --from or from= of an instruction. */
export interface SourceUse {
  ref: SourceRef;
  location: SourceLocation;
}

export interface StagePlan {
  base: Base;
  /** What the stage's instructions copy or mount from (its triggers' aside: they depend on its base). */
  sources: SourceUse[];
  /** The base name with global ARGs expanded. */
  baseName: string;
  /** FROM --platform with global ARGs expanded, when it names another platform than the target. */
  platform?: Platform;
  /** A named context of the stage's name stands for the whole stage: its instructions are not run. */
  replaced?: boolean;
}

export interface Plan {
  file: string;
  escape: string;
  stages: readonly Stage[];
  /** The global ARG values FROM lines see, --build-arg applied. */
  globals: ReadonlyMap<string, string>;
  /** By stage index. */
  plans: readonly StagePlan[];
  target: Stage;
  namedContext?: PlanInput['namedContext'];
}

/** Resolved images by reference; a reference missing here is unknown (--check without a resolver). */
export type Images = ReadonlyMap<string, ResolvedImage>;

export interface PlanInput {
  buildArgs: ReadonlyMap<string, string>;
  target?: string;
  platform: Platform;
  buildPlatform?: Platform;
  namedContext?: (name: string) => NamedContext | undefined;
}

/** The key of a resolved image: its reference, and the platform when it is not the target's. */
export function imageKey(ref: string, platform?: Platform): string {
  return platform ? `${ref} ${formatPlatform(platform)}` : ref;
}

/** FROM --platform's value, parsed; undefined when it is the target platform (the usual case). */
function stagePlatform(value: string | undefined, target: Platform, location: SourceLocation): Platform | undefined {
  if (value === undefined || value === '') return undefined;
  let p: Platform;
  try {
    p = parsePlatform(value, 'FROM --platform');
  } catch (e) {
    throw new DockerfileError('TSB_DOCKERFILE_INVALID', (e as Error).message, { location, hint: 'write os/arch[/variant], e.g. --platform=linux/arm64 or --platform=$BUILDPLATFORM' });
  }
  return samePlatform(p, target) ? undefined : p;
}

function contextBase(c: NamedContext): Base & SourceRef {
  return c.kind === 'image' ? { kind: 'image', ref: c.ref } : { kind: 'files', context: c };
}

/** What --from or from= names: a stage, else a named context, else an image. */
export function resolveSourceRef(stages: readonly Stage[], namedContext: PlanInput['namedContext'], value: string): SourceRef {
  const ref = sourceRef(stages, value);
  const c = ref.kind === 'image' ? namedContext?.(value) : undefined;
  return c ? contextBase(c) : ref;
}

export function makePlan({ globalArgs, stages }: Stages, input: PlanInput, file: string, escape: string, checks: Checks): Plan {
  const targetStage = input.target ?? stages[stages.length - 1]!.name ?? '';
  const noBuildArgs = new Map<string, string>();
  const build = input.buildPlatform ?? input.platform;
  defaultArgsInFrom(checks, stages, globalArgValues(automaticArgs(input.platform, build, targetStage, noBuildArgs), globalArgs, noBuildArgs, escape), escape);
  const globals = globalArgValues(automaticArgs(input.platform, build, targetStage, input.buildArgs), globalArgs, input.buildArgs, escape);
  const declared = new Set([...globals.keys(), ...globalArgs.flatMap((a) => a.args.map(({ key }) => key))]);
  const plans = stages.map((stage): StagePlan => {
    const { from } = stage;
    const base = expandWordAt(from.base, globals, escape, from.location);
    const platform = from.platform !== undefined ? expandWordAt(from.platform, globals, escape, from.location) : undefined;
    fromChecks(checks, stage, base, platform, globals, declared);
    const parsed = stagePlatform(platform?.value, input.platform, from.location);
    const name = base.value;
    if (!name) throw new DockerfileError('TSB_DOCKERFILE_INVALID', `base name (${from.base}) should not be blank`, { location: from.location, hint: 'check the ARG used in FROM has a value' });
    // As dockerfile2llb: a named context of the stage's own name replaces the stage; one of the
    // FROM name (not a stage) replaces that image.
    const own = stage.name ? input.namedContext?.(stage.name) : undefined;
    if (own) return { base: contextBase(own), sources: [], baseName: name, replaced: true, ...(parsed ? { platform: parsed } : {}) };
    const named = stageByName(stages, name);
    const ctx = named || name === 'scratch' ? undefined : input.namedContext?.(name);
    return {
      base: named ? (named.index < stage.index ? { kind: 'stage', stage: named } : { kind: 'later' }) : ctx ? contextBase(ctx) : name === 'scratch' ? { kind: 'scratch' } : { kind: 'image', ref: name },
      sources: sourceUses(stages, stage.instructions, input.namedContext),
      baseName: name,
      ...(parsed ? { platform: parsed } : {}),
    };
  });
  let target = stages[stages.length - 1]!;
  if (input.target) {
    const t = stageByName(stages, input.target);
    if (!t) {
      const names = stages.flatMap((s) => (s.name ? [s.name] : []));
      throw new DockerfileError('TSB_USAGE', `target stage "${input.target}" could not be found`, { hint: names.length ? `stages in ${file}: ${names.join(', ')}` : `${file} has no named stages (name one with FROM <image> AS <name>)` });
    }
    target = t;
  }
  return { file, escape, stages, globals, plans, target, ...(input.namedContext ? { namedContext: input.namedContext } : {}) };
}

/**
 * The ONBUILD triggers a stage runs first: its base image's, or the ONBUILD instructions of the
 * stage it builds on, located at its FROM. They are not passed on to stages built on it.
 */
export function triggersOf(plan: Plan, stage: Stage, images: Images): Instruction[] {
  const { base, replaced } = plan.plans[stage.index]!;
  if (replaced) return [];
  const triggers = base.kind === 'image' ? (images.get(imageKey(base.ref, plan.plans[stage.index]!.platform))?.config.config?.OnBuild ?? []) : base.kind === 'stage' ? base.stage.instructions.flatMap((i) => (i.kind === 'ONBUILD' ? [i.trigger] : [])) : [];
  if (triggers.length === 0) return [];
  const { location } = stage.from;
  return parseTriggers(triggers, location, (message, hint) => {
    throw new DockerfileError('TSB_DOCKERFILE_INVALID', base.kind === 'image' ? `${message} (in the base image ${base.ref})` : message, { location, hint });
  });
}

function sourceUses(stages: readonly Stage[], instructions: readonly Instruction[], namedContext: PlanInput['namedContext']): SourceUse[] {
  const uses: SourceUse[] = [];
  for (const i of instructions) for (const value of sourcesOf(i)) uses.push({ ref: resolveSourceRef(stages, namedContext, value), location: i.location });
  return uses;
}

/** What a stage copies or mounts from, its triggers' included. */
function sourcesOfStage(plan: Plan, stage: Stage, images: Images): SourceUse[] {
  const triggers = triggersOf(plan, stage, images);
  const own = plan.plans[stage.index]!.sources;
  return triggers.length ? [...sourceUses(plan.stages, triggers, plan.namedContext), ...own] : own;
}

/** The stages a build dispatches, in file order: all of them, or those the target needs. */
export function neededStages(plan: Plan, images: Images, allStages: boolean): Stage[] {
  if (allStages) return [...plan.stages];
  const needed = new Set<Stage>();
  const visit = (stage: Stage): void => {
    if (needed.has(stage)) return;
    needed.add(stage);
    const { base } = plan.plans[stage.index]!;
    if (base.kind === 'stage') visit(base.stage);
    for (const { ref } of sourcesOfStage(plan, stage, images)) if ((ref.kind === 'stage' || ref.kind === 'index') && ref.stage) visit(ref.stage);
  };
  visit(plan.target);
  return plan.stages.filter((s) => needed.has(s));
}

/** Where an image is used: a stage's base, or a --from / from=. */
export interface ImageUse {
  ref: string;
  /** For a FROM --platform of another platform than the target's. */
  platform?: Platform;
  location: SourceLocation;
  /** Base images and --from images get different hints when they cannot be resolved. */
  asBase: boolean;
}

/** The images `stages` use, each once, in file order. */
export function imageUses(plan: Plan, stages: readonly Stage[], images: Images): ImageUse[] {
  const uses = new Map<string, ImageUse>();
  const use = (u: ImageUse): void => {
    const key = imageKey(u.ref, u.platform);
    if (!uses.has(key)) uses.set(key, u);
  };
  for (const stage of stages) {
    const { base, platform } = plan.plans[stage.index]!;
    if (base.kind === 'image') use({ ref: base.ref, location: stage.from.location, asBase: true, ...(platform ? { platform } : {}) });
    for (const { ref, location } of sourcesOfStage(plan, stage, images)) if (ref.kind === 'image') use({ ref: ref.ref, location, asBase: false });
  }
  return [...uses.values()];
}
