// Typed flags per instruction: which `--flags` each instruction takes, parsed and validated.
import type { Node } from './parser.js';
import { DockerfileError } from './errors.js';
import type { SourceLocation } from '../builder/graph.js';

export const knownInstructions = [
  'FROM', 'RUN', 'CMD', 'LABEL', 'MAINTAINER', 'EXPOSE', 'ENV', 'ADD', 'COPY', 'ENTRYPOINT',
  'VOLUME', 'USER', 'WORKDIR', 'ARG', 'ONBUILD', 'STOPSIGNAL', 'HEALTHCHECK', 'SHELL',
] as const;

const allowedFlags: Record<string, readonly string[]> = {
  FROM: ['platform'],
  RUN: ['mount', 'network', 'security', 'device'],
  COPY: ['from', 'chown', 'chmod', 'link', 'parents', 'exclude'],
  ADD: ['chown', 'chmod', 'link', 'checksum', 'keep-git-dir', 'exclude', 'unpack'],
  HEALTHCHECK: ['interval', 'timeout', 'start-period', 'start-interval', 'retries'],
};

/** Flags the parser accepts but this version does not implement yet: a clear error, not silence. */
const unimplementedFlags: Record<string, readonly string[]> = {
  RUN: ['device'],
};

export type Flags = Map<string, string[]>;

export function locationOf(node: Node, file: string): SourceLocation {
  return { file, startLine: node.startLine, endLine: node.endLine };
}

export function nodeError(node: Node, file: string, message: string, hint?: string): DockerfileError {
  return new DockerfileError(message, locationOf(node, file), hint, node.original);
}

export function parseFlags(node: Node, file: string): Flags {
  const flags: Flags = new Map();
  const allowed = allowedFlags[node.instruction] ?? [];
  for (const raw of node.flags) {
    const body = raw.slice(2);
    const eq = body.indexOf('=');
    const name = (eq >= 0 ? body.slice(0, eq) : body).toLowerCase();
    const value = eq >= 0 ? body.slice(eq + 1) : '';
    if (!allowed.includes(name)) {
      throw nodeError(node, file, `unknown flag: --${name}`, allowed.length ? `${node.instruction} takes ${allowed.map((f) => `--${f}`).join(', ')}` : `${node.instruction} takes no flags`);
    }
    if (unimplementedFlags[node.instruction]?.includes(name) && !(name === 'platform' && value === '')) {
      throw nodeError(node, file, `${node.instruction} --${name} is not supported by this version of tsbuild yet`, 'remove the flag, or build this Dockerfile with BuildKit for now');
    }
    flags.set(name, [...(flags.get(name) ?? []), value]);
  }
  return flags;
}

export function flagValue(flags: Flags, name: string): string | undefined {
  const v = flags.get(name);
  return v ? v[v.length - 1] : undefined;
}

/** A suggestion for a mistyped instruction keyword. */
export function suggestInstruction(word: string): string | undefined {
  const w = word.toUpperCase();
  let best: string | undefined;
  let bestDist = 3;
  for (const k of knownInstructions) {
    const d = editDistance(w, k);
    if (d < bestDist) {
      best = k;
      bestDist = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const dp = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) dp[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      dp[i]![j] = Math.min(dp[i - 1]![j]! + 1, dp[i]![j - 1]! + 1, dp[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
  }
  return dp[a.length]![b.length]!;
}
