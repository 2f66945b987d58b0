// How any error is reported: user mistakes as a message, the Dockerfile lines they point at, and a
// hint; internal errors with "a bug" wording and a stack only under --debug (DESIGN §7).
import { asTsbuildError, type ErrorCode } from '../common/errors.js';
import { formatSourceExcerpt } from './warnings.js';

/** The Dockerfile as the engine read it (its 'source' progress event). */
export interface SourceText {
  file: string;
  text: string;
}

/** Errors in the Dockerfile itself: BuildKit prints them as `failed to solve: FILE:LINE: message`. */
const DOCKERFILE_CODES: readonly ErrorCode[] = ['TSB_DOCKERFILE_SYNTAX', 'TSB_DOCKERFILE_INVALID'];

/** The error and its causes, outermost first. */
function chain(err: unknown): unknown[] {
  const out: unknown[] = [];
  for (let e = err; e !== undefined && out.length < 10; e = (e as { cause?: unknown }).cause) out.push(e);
  return out;
}

export function formatError(err: unknown, opts: { source?: SourceText; debug?: boolean } = {}): string {
  const e = asTsbuildError(err);
  const out: string[] = [];
  // A failed RUN: its step name (on the StepError) and its last output lines (on the ExecError).
  const causes = chain(err);
  const step = causes.map((c) => (c as { step?: unknown }).step).find((s) => typeof s === 'string');
  const tail = causes.map((c) => (c as { tail?: unknown }).tail).find((s) => Array.isArray(s)) as string[] | undefined;
  if (step && tail) out.push('------', ` > ${step}:`, ...tail.map((l) => `   ${l}`), '------');
  const loc = e.location;
  if (loc) {
    if (opts.source && opts.source.file === loc.file) out.push(formatSourceExcerpt(opts.source.text, loc).trimEnd());
    else out.push(`${loc.file}:${loc.startLine}`);
  }
  const inDockerfile = DOCKERFILE_CODES.includes(e.code);
  const prefix = inDockerfile || loc ? 'ERROR: failed to solve: ' : 'ERROR: ';
  out.push(`${prefix}${loc && inDockerfile ? `${loc.file}:${loc.startLine}: ` : ''}${e.message}`);
  if (e.hint) out.push(`hint: ${e.hint}`);
  if (opts.debug) {
    out.push(`error code: ${e.code}`);
    // The innermost stack is where it went wrong.
    const stack = causes.map((c) => (c instanceof Error ? c.stack : undefined)).filter(Boolean).at(-1);
    if (stack) out.push(stack);
  } else if (e.kind === 'internal') out.push('(this looks like a bug in tsbuild; run with --debug for the stack trace)');
  return out.join('\n');
}
