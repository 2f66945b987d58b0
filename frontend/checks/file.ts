// The rules BuildKit runs while parsing, before any stage is dispatched: they look at the
// instructions as written, in every stage, whatever the target.
import type { Instruction } from '../instructions.js';
import type { ParseResult } from '../parser.js';
import type { Stages } from '../stages.js';
import type { Checks } from './rules.js';

export function fileChecks(checks: Checks, parsed: ParseResult, { globalArgs, stages }: Stages): void {
  const inStages: Instruction[] = [];
  for (const s of stages) inStages.push(s.from, ...s.instructions);
  for (const w of parsed.warnings) {
    // The parser reports the line the instruction starts on; the warning covers the instruction.
    const at = [...globalArgs, ...inStages].find((i) => i.location.startLine === w.line)!;
    checks.warn('NoEmptyContinuation', 'Empty continuation line', at.location);
  }
  for (const i of inStages) {
    if (i.kind === 'MAINTAINER') checks.warn('MaintainerDeprecated', 'Maintainer instruction is deprecated in favor of using label', i.location);
    if (i.kind !== 'FROM' || !i.as) continue;
    const { name, keyword: as } = i.as;
    if (name !== name.toLowerCase()) checks.warn('StageNameCasing', `Stage name '${name}' should be lowercase`, i.location);
    const kw = i.keyword;
    const lower = kw === kw.toLowerCase();
    const upper = kw === kw.toUpperCase();
    if ((lower && as !== as.toLowerCase()) || (upper && !lower && as !== as.toUpperCase())) checks.warn('FromAsCasing', `'${as}' and '${kw}' keywords' casing do not match`, i.location);
  }
  instructionCasing(checks, inStages);
}

/** ConsistentInstructionCasing: keywords against the casing most of them use. */
function instructionCasing(checks: Checks, instructions: readonly Instruction[]): void {
  let lower = 0;
  let upper = 0;
  for (const { keyword } of instructions) {
    if (keyword === keyword.toLowerCase()) lower++;
    else if (keyword === keyword.toUpperCase()) upper++;
  }
  // All in one case (the usual Dockerfile): nothing to report, no second pass.
  if (lower === instructions.length || upper === instructions.length) return;
  const majority = lower > upper ? 'lowercase' : 'uppercase';
  for (const { keyword, location } of instructions) {
    const want = majority === 'lowercase' ? keyword.toLowerCase() : keyword.toUpperCase();
    if (keyword !== want) checks.warn('ConsistentInstructionCasing', `Command '${keyword}' should match the case of the command majority (${majority})`, location);
  }
}
