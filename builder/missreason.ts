// Cache-miss explanations. Per build of one Dockerfile and target, a small record in the store says
// what each step's key was made of: the fields of its definition, its environment by name, its
// inputs (parent steps' keys, base image digests) and the context entries each copy selected; the
// next build's misses are explained by diffing against it. Values are kept only as keyed hashes (a
// salt per record), so no build arg or secret can be read back from a record; context entries (path,
// mode, size, content hash: what the stat cache holds already) are hashed with xxhash, as a key
// computation may see tens of thousands of them.
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import xxhash from 'xxhash-wasm';
import type { Digest } from '../common/oci.js';
import type { EntrySink } from './contenthash.js';
import { keepNewest } from './hintfiles.js';
import type { Vertex } from './graph.js';
import type { CacheMiss, MissReason } from './progress.js';
import type { Store } from '../snapshotter/store.js';

const RECORD_VERSION = 1;
/** Records are files of the cache folder: hints, as the stat cache (prune keeps them, prune --all removes them). */
const RECORD_PREFIX = 'missreason-';
/** Context entries kept per copy: past this, deeper paths fold into their directory's sum. */
export const MAX_ENTRIES = 512;
/** Records kept in the store (one per context, Dockerfile and target): the oldest go first. */
const MAX_RECORDS = 256;
/** Paths named in one explanation; the rest are counted. */
const SHOWN_PATHS = 3;

type InputFact = { step: string; key: string } | { image: string; digest: string } | { source: string; key: string } | { context: true };

interface StepFacts {
  id: string;
  /** The step's name without its position in the stage: how steps of two builds are paired. */
  match: string;
  /** Definition field → hash (env apart). */
  def: Record<string, string>;
  /** Environment variable → hash of its value. */
  env: Record<string, string>;
  /** The environment variables that are build args (ARG). */
  args: string[];
  inputs: InputFact[];
  /** Key part (copyN, mountN) → its checksum and its entries' hashes. */
  files: Record<string, { sum: string; entries: Record<string, string> }>;
  /** Its facts were recorded by a build that did not complete the step. */
  incomplete?: boolean;
}

interface MissRecord {
  version: number;
  salt: string;
  steps: StepFacts[];
}

/** Which build a record is for: the context, the Dockerfile's path within it, the target. */
export interface BuildIdentity {
  contextDir: string;
  dockerfilePath: string;
  target?: string;
}

/** `[build 2/4] RUN make` → `[build] RUN make`: adding a step before it does not unpair it. */
function matchName(name: string): string {
  return name.replace(/^\[([^\]]*?)\s*\d+\/\d+\]/, '[$1]');
}

function depth(p: string): number {
  if (p === '' || p === '.') return 0;
  let n = 1;
  for (let i = p.indexOf('/'); i >= 0; i = p.indexOf('/', i + 1)) n++;
  return n;
}

function ancestor(p: string, d: number): string {
  return d === 0 ? './' : `${p.split('/').slice(0, d).join('/')}/`;
}

/**
 * The entries of one checksum, bounded: each path's hash (a directory's ends in '/'), until there
 * are more than MAX_ENTRIES; then the deepest level folds into its directories, whose entry then
 * stands for the directory and all under it.
 */
class EntryFolder {
  readonly entries = new Map<string, string>();
  private limit = Infinity;

  constructor(private readonly hash: (s: string) => string) {}

  add(name: string, line: string): void {
    // COPY src/ names src/a.js `src//a.js`; COPY . names the root '' and its files `/a.js`.
    const p = name.replace(/\/+/g, '/').replace(/^\.?\//, '').replace(/\/$/, '') || '.';
    const isDir = line.startsWith(`${name}\0dir\0`);
    this.put(isDir ? (p === '.' ? './' : `${p}/`) : p, this.hash(line));
    if (this.entries.size > MAX_ENTRIES) this.fold();
  }

  private put(key: string, h: string): void {
    const bare = key.replace(/\/$/, '');
    const into = depth(bare) > this.limit ? ancestor(bare, this.limit) : key;
    const old = this.entries.get(into);
    this.entries.set(into, old === undefined ? h : this.hash(`${old}\0${key}\0${h}`));
  }

  private fold(): void {
    while (this.entries.size > MAX_ENTRIES && this.limit > 0) {
      const deepest = Math.max(...[...this.entries.keys()].map((k) => depth(k.replace(/\/$/, ''))));
      this.limit = Math.max(0, Math.min(this.limit, deepest) - 1);
      const old = [...this.entries];
      this.entries.clear();
      for (const [k, h] of old) this.put(k, h);
    }
  }
}

function recordFile(store: Store, id: BuildIdentity): string {
  const rel = path.relative(id.contextDir, id.dockerfilePath);
  const name = createHash('sha256').update(`${id.contextDir}\0${rel}\0${id.target ?? ''}`).digest('hex').slice(0, 32);
  return path.join(store.cacheDir, `${RECORD_PREFIX}${name}.json`);
}

async function loadRecord(file: string): Promise<MissRecord | undefined> {
  try {
    const r = JSON.parse(await readFile(file, 'utf8')) as MissRecord;
    return r.version === RECORD_VERSION && Array.isArray(r.steps) ? r : undefined;
  } catch {
    return undefined;
  }
}

/** What changed between two maps of hashes: keys in either whose hashes differ, in `now`'s order then `was`'s. */
function changedKeys(was: Record<string, string>, now: Record<string, string>): string[] {
  const out = Object.keys(now).filter((k) => was[k] !== now[k]);
  for (const k of Object.keys(was)) if (!(k in now)) out.push(k);
  return out;
}

/** Fields of an exec's definition the instruction inherits or gets from flags, as the user knows them. */
const SETTINGS: Record<string, string> = {
  cwd: 'WORKDIR',
  user: 'USER',
  network: 'network',
  hostname: 'hostname',
  mounts: 'mounts',
  insecure: 'security',
  extraHosts: '--add-host',
  ulimits: '--ulimit',
};

/** The differences between a step's facts now and in the earlier build. */
export function diffFacts(was: StepFacts, now: StepFacts, pairedByName: boolean): MissReason[] {
  const reasons: MissReason[] = [];
  const defChanged = changedKeys(was.def, now.def);
  const settings = defChanged.filter((f) => f in SETTINGS);
  if (!pairedByName || defChanged.some((f) => !(f in SETTINGS)) || was.inputs.length !== now.inputs.length) reasons.push({ kind: 'instruction' });
  if (settings.length) reasons.push({ kind: 'settings', fields: settings.map((f) => SETTINGS[f]!) });
  const env = changedKeys(was.env, now.env);
  const isArg = (n: string): boolean => now.args.includes(n) || was.args.includes(n);
  if (env.some(isArg)) reasons.push({ kind: 'build-arg', names: env.filter(isArg) });
  if (env.some((n) => !isArg(n))) reasons.push({ kind: 'env', names: env.filter((n) => !isArg(n)) });
  const paths: string[] = [];
  for (const [part, f] of Object.entries(now.files)) {
    const old = was.files[part];
    if (old?.sum === f.sum) continue;
    for (const p of changedKeys(old?.entries ?? {}, f.entries)) if (!paths.includes(p)) paths.push(p);
  }
  if (paths.length) reasons.push({ kind: 'files', paths: paths.slice(0, SHOWN_PATHS), count: paths.length });
  for (const [i, input] of now.inputs.entries()) {
    const old = was.inputs[i];
    if (!old || JSON.stringify(old) === JSON.stringify(input)) continue;
    if ('image' in input) reasons.push({ kind: 'base-image', ref: input.image, from: 'digest' in old ? old.digest : '', to: input.digest });
    else if ('step' in input) reasons.push({ kind: 'parent', step: input.step });
    else if ('source' in input) reasons.push({ kind: 'source', step: input.source });
  }
  return reasons.length ? reasons : [{ kind: 'no-result' }];
}

/** One build's side of the explanations: collects facts as keys are computed, explains misses, saves the record. */
export class MissExplainer {
  private readonly facts = new Map<Vertex, StepFacts>();
  private readonly folders = new Map<Vertex, Map<string, EntryFolder>>();
  private readonly salt: string;

  private constructor(
    private readonly file: string,
    private readonly earlier: MissRecord | undefined,
    private readonly noCache: boolean,
    private readonly entryHash: (s: string) => string,
  ) {
    this.salt = earlier?.salt ?? randomBytes(16).toString('hex');
  }

  static async open(store: Store, id: BuildIdentity, opts: { noCache: boolean }): Promise<MissExplainer> {
    const file = recordFile(store, id);
    const { h64ToString } = await xxhash();
    return new MissExplainer(file, await loadRecord(file), opts.noCache, h64ToString);
  }

  private hash(s: string): string {
    return createHmac('sha256', this.salt).update(s).digest('hex').slice(0, 16);
  }

  /** The entries the earlier build kept for this part of v's key, if its checksum was `sum` then too. */
  private unchanged(v: Vertex, part: string, sum: string): Record<string, string> | undefined {
    const h = this.hash(sum);
    const match = matchName(v.name);
    return this.earlier?.steps.find((s) => (s.match === match || s.id === v.id) && s.files[part]?.sum === h)?.files[part]!.entries;
  }

  /**
   * Where to send the entries of one part of v's key (a copy's or a bind mount's context selection)
   * as the checksum walks it: collected (bounded) in that one walk, and kept by keyed() only when the
   * earlier build's record cannot give them (the selection is new or changed), so no second walk.
   */
  entrySink(v: Vertex, part: string): EntrySink {
    let parts = this.folders.get(v);
    if (!parts) this.folders.set(v, (parts = new Map()));
    const folder = new EntryFolder(this.entryHash);
    parts.set(part, folder);
    return (name, line) => folder.add(name, line);
  }

  /** Records what v's key was made of: the definition as the key has it, the inputs' keys, the context checksums. */
  keyed(v: Vertex, definition: object, inputKeys: readonly Digest[], extra: Readonly<Record<string, string>>): void {
    if (v.op.kind === 'source') return;
    const def: Record<string, string> = {};
    const env: Record<string, string> = {};
    for (const [field, value] of Object.entries(definition)) {
      if (value === undefined) continue;
      if (field === 'env' && Array.isArray(value)) {
        for (const e of value as string[]) {
          const eq = e.indexOf('=');
          env[eq < 0 ? e : e.slice(0, eq)] = this.hash(eq < 0 ? '' : e.slice(eq + 1));
        }
      } else if (field !== 'kind') {
        def[field] = this.hash(JSON.stringify(value));
      }
    }
    const inputs = v.inputs.map((u, i): InputFact => {
      const key = inputKeys[i]!.slice(7, 23);
      if (u.op.kind !== 'source') return { step: u.name, key };
      const s = u.op.source;
      if (s.type === 'image') return { image: s.ref, digest: s.manifestDigest };
      if (s.type === 'context') return { context: true };
      return { source: u.name, key };
    });
    const folders = this.folders.get(v);
    const files: StepFacts['files'] = {};
    for (const [part, sum] of Object.entries(extra)) {
      const entries = this.unchanged(v, part, sum) ?? folders?.get(part)?.entries;
      files[part] = { sum: this.hash(sum), entries: entries instanceof Map ? Object.fromEntries(entries) : (entries ?? {}) };
    }
    this.folders.delete(v);
    this.facts.set(v, { id: v.id, match: matchName(v.name), def, env, args: [...(v.argNames ?? [])], inputs, files });
  }

  private paired(v: Vertex): { was: StepFacts; byName: boolean } | undefined {
    const steps = this.earlier?.steps ?? [];
    const match = matchName(v.name);
    const named = steps.filter((s) => s.match === match);
    const was = named.find((s) => s.id === v.id) ?? named[0];
    if (was) return { was, byName: true };
    // Same place, other text: unless its old text is still here, moved (a step was inserted before it).
    const current = new Set([...this.facts.values()].map((f) => f.match));
    const same = steps.find((s) => s.id === v.id && !current.has(s.match));
    return same ? { was: same, byName: false } : undefined;
  }

  /** Why v, about to run, missed the cache; nothing when there is no earlier build to compare with. */
  explain(v: Vertex): CacheMiss | undefined {
    if (this.noCache) return { reasons: [{ kind: 'no-cache' }] };
    const now = this.facts.get(v);
    if (!this.earlier || !now) return undefined;
    const p = this.paired(v);
    return { reasons: p ? diffFacts(p.was, now, p.byName) : [{ kind: 'new-step' }] };
  }

  /**
   * Writes the record for the next build: the facts of every step this build completed or found
   * cached; for the others (failed, not reached), what the earlier record had.
   */
  async save(store: Store, settled: Iterable<Vertex>): Promise<void> {
    // Explanations are a help, not the build: a store that cannot take the record fails nothing.
    await this.write(store, new Set(settled)).catch(() => {});
  }

  private async write(store: Store, done: Set<Vertex>): Promise<void> {
    // No key computed (a build that failed before solving, or a fast path that needed none): keep the earlier record.
    if (this.facts.size === 0) return;
    const steps: StepFacts[] = [];
    for (const [v, f] of this.facts) {
      if (done.has(v)) steps.push(f);
      else steps.push(this.paired(v)?.was ?? { ...f, incomplete: true });
    }
    // In the graph's order, whatever order the keys were computed in: a build where nothing changed
    // makes the same record, and writes nothing (as the rest of a no-change build).
    steps.sort((a, b) => a.id.localeCompare(b.id, 'en', { numeric: true }));
    const text = JSON.stringify({ version: RECORD_VERSION, salt: this.salt, steps } satisfies MissRecord);
    if (this.earlier && text === JSON.stringify(this.earlier)) return;
    await store.writeFileAtomic(this.file, text);
    await keepNewest(path.dirname(this.file), RECORD_PREFIX, MAX_RECORDS);
  }
}
