// User-facing errors of the CLI itself (bad flags, missing files) and how any error is reported:
// user mistakes as a message, location and hint; anything else with a stack only under --debug.
import { DockerfileError } from '../frontend/errors.js';
import { formatSourceExcerpt } from '../frontend/format.js';
import type { SourceLocation } from '../builder/graph.js';

export class UsageError extends Error {
  readonly userError = true;
  constructor(message: string, readonly hint?: string) {
    super(message);
  }
}

interface Reportable {
  message: string;
  hint?: string;
  location?: SourceLocation;
  userError?: boolean;
  tail?: string[];
  step?: string;
  stack?: string;
}

export function formatError(err: unknown, opts: { dockerfile?: string; debug?: boolean } = {}): string {
  const e = (err ?? {}) as Reportable;
  const out: string[] = [];
  if (e.step && e.tail) {
    out.push('------', ` > ${e.step}:`, ...e.tail.map((l) => `   ${l}`), '------');
  }
  if (e.location) {
    if (opts.dockerfile) out.push(formatSourceExcerpt(opts.dockerfile, e.location).trimEnd());
    else out.push(`${e.location.file}:${e.location.startLine}`);
  }
  const prefix = err instanceof DockerfileError || e.location ? 'ERROR: failed to solve: ' : 'ERROR: ';
  out.push(`${prefix}${e.location && err instanceof DockerfileError ? `${e.location.file}:${e.location.startLine}: ` : ''}${e.message ?? String(err)}`);
  if (e.hint) out.push(`hint: ${e.hint}`);
  if (opts.debug && e.stack) out.push(e.stack);
  else if (!e.userError && e.stack) out.push('(this looks like a bug in tsbuild; run with --debug for the stack trace)');
  return out.join('\n');
}
