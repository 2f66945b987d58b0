// The Dockerfile as stages, as BuildKit's instructions.Parse makes them: each node parsed into a
// typed instruction, the ARGs before the first FROM kept as global ARGs, then one stage per FROM
// with the instructions up to the next. Also how stages are named and found by --target, FROM and
// --from.
import type { FilesContext } from '../builder/frontend.js';
import type { SourceLocation } from '../common/errors.js';
import { DockerfileError } from './errors.js';
import { parseInstruction, type ArgInstruction, type FromInstruction, type Instruction } from './instructions.js';
import type { Node } from './parser.js';

export interface Stage {
  index: number;
  /** The AS name lower-cased, as BuildKit keys stages. */
  name?: string;
  from: FromInstruction;
  instructions: Instruction[];
}

export interface Stages {
  globalArgs: ArgInstruction[];
  stages: Stage[];
}

const RESERVED = new Set(['scratch', 'context']);

function invalid(location: SourceLocation, message: string, hint: string): DockerfileError {
  return new DockerfileError('TSB_DOCKERFILE_INVALID', message, { location, hint });
}

/** Parses every node (in file order, so the first mistake is the one reported) and splits stages. */
export function splitStages(nodes: readonly Node[], file: string, escape: string): Stages {
  const globalArgs: ArgInstruction[] = [];
  const stages: Stage[] = [];
  for (const node of nodes) {
    const i = parseInstruction(node, file, escape);
    if (i.kind === 'FROM') {
      stages.push({ index: stages.length, ...(i.as ? { name: stageNameOf(i, stages) } : {}), from: i, instructions: [] });
    } else if (stages.length > 0) {
      stages[stages.length - 1]!.instructions.push(i);
    } else if (i.kind === 'ARG') {
      globalArgs.push(i);
    } else {
      throw invalid(i.location, `no build stage in current context: ${i.kind} must come after a FROM instruction`, 'start the Dockerfile with FROM (only ARG may come before it)');
    }
  }
  if (stages.length === 0) {
    throw invalid({ file, startLine: 1, endLine: 1 }, 'the Dockerfile has no FROM instruction', 'start the Dockerfile with FROM <image> (or FROM scratch)');
  }
  return { globalArgs, stages };
}

/**
 * A valid, unique stage name. BuildKit only warns about duplicate and reserved names (and then
 * resolves the name to one of them); tsbuild refuses them, so no rule reports them.
 */
function stageNameOf(from: FromInstruction, earlier: readonly Stage[]): string {
  const written = from.as!.name;
  const name = written.toLowerCase();
  if (!/^[a-z][a-z0-9-_.]*$/.test(name)) throw invalid(from.location, `invalid name for build stage: "${written}", name can't start with a number or contain symbols`, 'stage names start with a letter and contain letters, digits, -, _ and .');
  if (earlier.some((s) => s.name === name)) throw invalid(from.location, `duplicate stage name "${name}"`, 'stage names must be unique; rename one of them');
  if (RESERVED.has(name)) throw invalid(from.location, `"${name}" is a reserved stage name`, 'rename the stage');
  return name;
}

/** How progress and errors name a stage. */
export function displayName(stage: Stage): string {
  return stage.name ?? `stage-${stage.index}`;
}

export function stageByName(stages: readonly Stage[], name: string): Stage | undefined {
  const lower = name.toLowerCase();
  return stages.find((s) => s.name === lower);
}

/** A --from or from= value: a stage by name, a stage by index (maybe out of range), or an image. */
/** `files`: a named context of files (--build-context NAME=DIR or NAME=URL). */
export type SourceRef = { kind: 'stage'; stage: Stage } | { kind: 'index'; index: number; stage?: Stage } | { kind: 'image'; ref: string } | { kind: 'files'; context: FilesContext };

export function sourceRef(stages: readonly Stage[], value: string): SourceRef {
  if (/^\d+$/.test(value)) {
    const index = Number(value);
    return { kind: 'index', index, ...(stages[index] ? { stage: stages[index] } : {}) };
  }
  const stage = stageByName(stages, value);
  return stage ? { kind: 'stage', stage } : { kind: 'image', ref: value };
}

const none: readonly string[] = [];

/** The --from and mount from= values an instruction reads from. */
export function sourcesOf(i: Instruction): readonly string[] {
  if (i.kind === 'COPY' && i.from !== undefined) return [i.from];
  if (i.kind === 'RUN' && i.mounts.length) return i.mounts.flatMap((m) => (m.from !== undefined ? [m.from] : []));
  return none;
}
