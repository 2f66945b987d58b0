// Which checks run and whether they fail the build: the `# check=skip=A,B;error=true` directive, or
// the BUILDKIT_DOCKERFILE_CHECK build arg, which overrides it (as in BuildKit).
import type { ErrorCode, SourceLocation } from '../../common/errors.js';
import { DockerfileError } from '../errors.js';
import type { Directives } from '../parser.js';
import type { CheckConfig } from './rules.js';

function parseBool(v: string): boolean | undefined {
  // Go's strconv.ParseBool
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(v)) return false;
  return undefined;
}

function ruleList(v: string): Set<string> | 'all' {
  const t = v.trim();
  return t === 'all' ? 'all' : new Set(t.split(',').map((r) => r.trim()).filter(Boolean));
}

/**
 * `skip=A,B;error=true;experimental=C` as BuildKit reads it: keys trimmed, `all` for every rule,
 * error as a Go bool. Unknown rule names are accepted (as BuildKit does); unknown keys are errors,
 * raised with `code` at `location`.
 */
export function parseCheckDirective(value: string | undefined, code: ErrorCode = 'TSB_DOCKERFILE_SYNTAX', location?: SourceLocation): CheckConfig {
  const config: CheckConfig = { skip: new Set(), error: false, experimental: new Set() };
  const text = (value ?? '').trim();
  const fail = (message: string): never => {
    throw new DockerfileError(code, `failed to parse check options: ${message}`, { location, hint: 'the directive is # check=skip=<Rule>,<Rule>;error=true (or skip=all)' });
  };
  for (const part of text.split(';')) {
    if (!part.trim()) continue;
    const eq = part.indexOf('=');
    if (eq < 0) fail(`invalid check option "${part}"`);
    const key = part.slice(0, eq).trim();
    const v = part.slice(eq + 1);
    if (key === 'skip') config.skip = ruleList(v);
    else if (key === 'experimental') config.experimental = ruleList(v);
    else if (key === 'error') config.error = parseBool(v.trim()) ?? fail(`failed to parse check option "${part}": "${v.trim()}" is not a boolean`);
    else fail(`invalid check option "${key}"`);
  }
  return config;
}

/** The check configuration of a build: the build arg when given, else the directive. */
export function checkConfig(directives: Directives, buildArgs: ReadonlyMap<string, string>, file: string): CheckConfig {
  const fromArg = buildArgs.get('BUILDKIT_DOCKERFILE_CHECK');
  if (fromArg !== undefined) return parseCheckDirective(fromArg, 'TSB_USAGE');
  const line = directives.checkLine;
  return parseCheckDirective(directives.check, 'TSB_DOCKERFILE_SYNTAX', line ? { file, startLine: line, endLine: line } : undefined);
}
