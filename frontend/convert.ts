// The Dockerfile frontend (the contract of builder/frontend.ts), in BuildKit's order: parse once
// into typed instructions and stages, plan the walk, resolve the images the plan needs, then one
// dispatch walk that emits the graph and runs the checks. --check is that same walk, over every
// stage unless a target is named, with nothing solved.
import type { CheckResult, Frontend, FrontendInput, FrontendResult } from '../builder/frontend.js';
import { parseDockerignore } from '../common/dockerignore.js';
import { hostPlatform, type ImageConfig, type Platform } from '../common/oci.js';
import { checkConfig } from './checks/directive.js';
import { fileChecks } from './checks/file.js';
import { Checks, lintViolation, type CheckReport } from './checks/rules.js';
import { walk } from './dispatch.js';
import { parse, type Directives } from './parser.js';
import { makePlan, neededStages, type Images, type Plan } from './plan.js';
import { resolveImages } from './resolve.js';
import { splitStages, type Stage } from './stages.js';
import type { StageState } from './state.js';

export type { FrontendInput, FrontendResult, ResolvedImage, Warning } from '../builder/frontend.js';

type WalkSource = Pick<FrontendInput, 'dockerfile' | 'filename' | 'dockerignore' | 'buildArgs' | 'target' | 'platform' | 'buildPlatform' | 'multiPlatform' | 'exec' | 'namedContext'>;

interface Prepared {
  directives: Directives;
  plan: Plan;
  checks: Checks;
}

/** Everything before image resolution: parse, stages, the file-level checks, the plan. */
function prepare(input: WalkSource): Prepared {
  const parsed = parse(input.dockerfile, input.filename);
  const { directives } = parsed;
  const checks = new Checks(checkConfig(directives, input.buildArgs, input.filename));
  const stages = splitStages(parsed.nodes, input.filename, directives.escape);
  fileChecks(checks, parsed, stages);
  return { directives, plan: makePlan(stages, input, input.filename, directives.escape, checks), checks };
}

function dispatchAll(input: WalkSource, { plan, checks }: Prepared, images: Images, allStages: boolean): Map<Stage, StageState> {
  return walk({
    plan,
    images,
    stages: neededStages(plan, images, allStages),
    checks,
    buildArgs: input.buildArgs,
    platform: input.platform,
    ...(input.multiPlatform ? { multiPlatform: true } : {}),
    excludes: input.dockerignore ? parseDockerignore(input.dockerignore) : [],
    ...(input.exec ? { exec: input.exec } : {}),
  });
}

/** The target stage's graph and image config, and the checks' warnings. */
export async function convertDockerfile(input: FrontendInput): Promise<FrontendResult> {
  const prepared = prepare(input);
  const { plan, checks, directives } = prepared;
  const images = await resolveImages(plan, input.resolveImage, false);
  const state = dispatchAll(input, prepared, images, false).get(plan.target)!;
  const config: ImageConfig = {
    ...(state.author ? { author: state.author } : {}),
    architecture: state.platform.architecture,
    os: state.platform.os,
    ...(state.platform.variant ? { variant: state.platform.variant } : {}),
    config: state.config,
    rootfs: { type: 'layers', diff_ids: [] },
  };
  const violation = lintViolation(checks);
  const warnings = [...checks.warnings];
  if (directives.syntax) {
    // BuildKit would fetch that frontend image; tsbuild always uses its own frontend.
    warnings.push({
      rule: 'SyntaxDirectiveIgnored',
      message: `the syntax directive (${directives.syntax}) is ignored: tsbuild builds with its own Dockerfile frontend`,
      location: { file: input.filename, startLine: 1, endLine: 1 },
    });
  }
  return {
    definition: { root: state.vertex, config, history: state.history, baseHistory: state.baseHistory },
    warnings,
    ...(violation !== undefined ? { violation } : {}),
  };
}

/** `build --check`: the build's walk over every stage unless a target is named, base images resolved for their env. */
async function checkWithImages(input: FrontendInput): Promise<CheckResult> {
  const prepared = prepare(input);
  const allStages = !input.target;
  dispatchAll(input, prepared, await resolveImages(prepared.plan, input.resolveImage, allStages), allStages);
  const violation = lintViolation(prepared.checks);
  return { warnings: prepared.checks.warnings, ...(violation !== undefined ? { violation } : {}) };
}

/**
 * The same check without an image resolver (the CLI's `build --check`, which opens no store): base
 * images stay unresolved, so their env is unknown and UndefinedVar is conservative.
 */
export function checkDockerfile(input: Omit<WalkSource, 'platform'> & { platform?: Platform }): CheckReport {
  const source = { ...input, platform: input.platform ?? hostPlatform() };
  const prepared = prepare(source);
  dispatchAll(source, prepared, new Map(), !input.target);
  return prepared.checks;
}

/** The Dockerfile frontend, as the engine calls it. */
export const dockerfileFrontend: Frontend = { build: convertDockerfile, check: checkWithImages };
