// Text forms of build-check warnings and of the Dockerfile lines warnings and errors point at, as
// BuildKit and buildx print them (DESIGN §7: formatting belongs to cmd/).
import type { Warning } from '../builder/engine.js';
import type { SourceLocation } from '../common/errors.js';

/** `Rule: message (line N)` — BuildKit's short form (linter.LintFormatShort). */
export function formatWarningShort(w: Warning): string {
  const line = w.location?.startLine ?? 0;
  return `${w.rule}: ${w.message}${line > 0 ? ` (line ${line})` : ''}`;
}

/** BuildKit's source excerpt (solver/errdefs Source.Print): the range with context, `>>>` marks. */
export function formatSourceExcerpt(source: string, loc: SourceLocation): string {
  const lines = source.split('\n');
  let start = loc.startLine;
  let end = loc.endLine < start ? start : loc.endLine;
  if (start > lines.length || start < 1) return '';
  if (end > lines.length) end = lines.length;
  const pad = end === start ? 4 : 2;
  const first = start;
  const marked = (i: number) => i >= loc.startLine && i <= Math.max(loc.startLine, loc.endLine);
  for (let p = 0; p < pad; p++) {
    if (start > 1) {
      start--;
      p++;
    }
    if (end !== lines.length) {
      end++;
      p++;
    }
  }
  let out = `${loc.file}:${first}\n--------------------\n`;
  for (let i = start; i <= end; i++) out += ` ${String(i).padStart(3)} | ${marked(i) ? '>>>' : '   '} ${lines[i - 1]}\n`;
  return `${out}--------------------\n`;
}

/**
 * Warnings at the end of a build (buildx printWarnings): a blank line, ` N warnings found
 * (use --debug to expand):`, then ` - <short>` per warning; with `debug`, each is followed by its
 * description, `More info: <url>`, the source excerpt and a blank line.
 */
export function formatBuildWarnings(warnings: readonly Warning[], opts: { debug?: boolean; source?: string; expandHint?: string } = {}): string {
  if (warnings.length === 0) return '';
  const n = warnings.length;
  let out = `\n ${n === 1 ? '1 warning found' : `${n} warnings found`}${opts.debug ? '' : (opts.expandHint ?? ' (use --debug to expand)')}:\n`;
  for (const w of warnings) {
    out += ` - ${formatWarningShort(w)}\n`;
    if (!opts.debug) continue;
    if (w.description) out += `${w.description}\n`;
    if (w.url) out += `More info: ${w.url}\n`;
    if (opts.source !== undefined && w.location) out += formatSourceExcerpt(opts.source, w.location);
    out += '\n';
  }
  return out;
}

/**
 * `build --check` output (buildx printResult + lint.PrintTo): a summary line, then per warning,
 * sorted by line, `\nWARNING: Rule - url\nmessage\n` and the source excerpt. The exit code is 1
 * when there is any warning (whatever error= says), 0 otherwise.
 */
export function formatCheckOutput(result: { warnings: readonly Warning[] }, source: string): { text: string; exitCode: number } {
  const ws = [...result.warnings].sort((a, b) => (a.location?.startLine ?? 0) - (b.location?.startLine ?? 0));
  const n = ws.length;
  if (n === 0) return { text: 'Check complete, no warnings found.\n', exitCode: 0 };
  let text = `Check complete, ${n === 1 ? '1 warning has been found!' : `${n} warnings have been found!`}\n`;
  for (const w of ws) {
    text += `\nWARNING: ${w.rule}${w.url ? ` - ${w.url}` : ''}\n${w.message}\n`;
    if (w.location) text += formatSourceExcerpt(source, w.location);
  }
  return { text, exitCode: 1 };
}
