// The fuzz loop: pick a seed, mutate it, run it through a target, keep what crashes. Inputs that give
// a new outcome class are not tracked (no coverage feedback): the seeds and the dictionary carry
// the structure, and runs are cheap enough to make up for it.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { mutate, Rng } from './mutate.js';
import { corpusDir, type Outcome, type Target } from './targets.js';

export interface Crash {
  input: Buffer;
  error: unknown;
  /** What tells two crashes apart: the error's class and message shape and where it was thrown. */
  signature: string;
}

export interface FuzzStats {
  target: string;
  seed: number;
  runs: number;
  ok: number;
  refused: number;
  /** One per signature, the first input that hit it. */
  crashes: Crash[];
  ms: number;
  /** The input that took longest (a slow path is not a crash, but worth a look). */
  slowest?: { ms: number; input: Buffer };
}

export function signatureOf(e: unknown): string {
  const err = e instanceof Error ? e : new Error(String(e));
  const frame = err.stack?.split('\n').find((l) => l.trim().startsWith('at ') && !l.includes('node:internal'))?.trim() ?? '';
  // Numbers and quoted names vary between inputs that hit the same bug.
  const message = err.message.replace(/"[^"]*"/g, '"…"').replace(/\d+/g, 'N').slice(0, 120);
  return `${err.name}: ${message} ${frame.replace(/:\d+:\d+\)?$/, '')}`;
}

/** The saved crashes of a target (regression inputs), by file name. */
export function loadCorpus(target: Target['name']): Map<string, Buffer> {
  const dir = corpusDir(target);
  const out = new Map<string, Buffer>();
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir).sort()) if (!name.startsWith('.') && name !== 'README.md') out.set(name, readFileSync(path.join(dir, name)));
  return out;
}

/** Saves a crashing (or very slow) input into the target's corpus, named by its content; returns its path. */
export function saveCrash(target: Target['name'], input: Buffer, kind: 'crash' | 'slow' = 'crash'): string {
  const dir = corpusDir(target);
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${kind}-${createHash('sha256').update(input).digest('hex').slice(0, 12)}`);
  writeFileSync(file, input);
  return file;
}

/** Runs `target` on mutated inputs for `durationMs` (or `maxRuns`), from `seed`. */
export async function fuzz(target: Target, opts: { seed: number; durationMs: number; maxRuns?: number; onCrash?: (c: Crash) => void }): Promise<FuzzStats> {
  const rng = new Rng(opts.seed);
  const corpus = [...(await target.seeds()), ...loadCorpus(target.name).values()].filter((b) => b.length <= target.maxSize);
  if (corpus.length === 0) throw new Error(`${target.name}: no seeds`);
  const mo = { dictionary: target.dictionary, maxSize: target.maxSize, alignment: target.alignment };
  const stats: FuzzStats = { target: target.name, seed: opts.seed, runs: 0, ok: 0, refused: 0, crashes: [], ms: 0 };
  const seen = new Set<string>();
  const start = Date.now();
  while (Date.now() - start < opts.durationMs && stats.runs < (opts.maxRuns ?? Infinity)) {
    const input = mutate(rng.pick(corpus), corpus, rng, mo);
    stats.runs++;
    let outcome: Outcome;
    const t0 = Date.now();
    try {
      outcome = await target.run(input);
    } catch (error) {
      const signature = signatureOf(error);
      if (!seen.has(signature)) {
        seen.add(signature);
        const crash = { input, error, signature };
        stats.crashes.push(crash);
        opts.onCrash?.(crash);
      }
      continue;
    } finally {
      const ms = Date.now() - t0;
      if (ms > (stats.slowest?.ms ?? 0)) stats.slowest = { ms, input };
    }
    stats[outcome]++;
  }
  stats.ms = Date.now() - start;
  return stats;
}
