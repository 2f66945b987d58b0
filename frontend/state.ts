// What the dispatch walk keeps per stage (BuildKit's dispatchState), and what an instruction is
// dispatched with: its stage's state, expansion against the stage's scope, errors located at it,
// and the vertices it may add.
import type { ExecDefaults, Op, Source, Vertex } from '../builder/graph.js';
import type { ImageConfig, Platform, RunConfig } from '../common/oci.js';
import type { Scope } from './args.js';
import type { InstructionChecks } from './checks/instruction.js';

export const DEFAULT_SHELL = ['/bin/sh', '-c'];

export interface StageState {
  /** The stage's rootfs so far. */
  vertex: Vertex;
  config: RunConfig;
  scope: Scope;
  /** The shell of shell-form RUN/CMD/ENTRYPOINT. */
  shell: string[];
  /** One entry per instruction, as BuildKit writes history; `vertex` for those that add a layer. */
  history: Array<{ createdBy: string; vertex?: Vertex }>;
  /** The base image's history (to inherit). */
  baseHistory: ImageConfig['history'];
  /** A CMD ran in this stage (an ENTRYPOINT then keeps it). */
  cmdSet: boolean;
  author?: string;
  /** The platform of the stage's image config. */
  platform: Platform;
  /** The base image's env is known: always, but for --check without an image resolver. */
  envKnown: boolean;
  /** A WORKDIR ran in this stage or one it builds on (WorkdirRelativePath). */
  workdirSet: boolean;
  /** ENV changed scope.env: config.Env is rewritten from it once, when the stage is done. */
  envEdited: boolean;
}

/** One instruction being dispatched. */
export interface Dispatch {
  readonly state: StageState;
  readonly checks: InstructionChecks;
  readonly buildArgs: ReadonlyMap<string, string>;
  /** The build's settings of every RUN (--network, --add-host, --shm-size, --ulimit). */
  readonly exec: ExecDefaults;
  /** The global ARG values (a stage's `ARG NAME` without default takes the global one). */
  readonly globals: ReadonlyMap<string, string>;
  /** The build context's source vertex. */
  readonly context: Vertex;
  /** One word, expanded in the stage's scope; unset names count for UndefinedVar. */
  expand(word: string): string;
  /** Text expanded and split into words. */
  expandWords(text: string): string[];
  /** A heredoc body with $ substitutions. */
  expandHeredoc(text: string): string;
  fail(message: string, hint: string): never;
  /** Adds this instruction's vertex, makes it the stage's rootfs; `text` names the step. */
  commit(op: Op, inputs: Vertex[], text: string): Vertex;
  /** A source vertex of this instruction (a downloaded file, a git repository). */
  source(source: Source, name: string): Vertex;
  /** The rootfs of what --from or from= names: an earlier stage, or an image. */
  from(value: string): Vertex;
}
