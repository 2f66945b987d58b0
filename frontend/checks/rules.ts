// Build checks: BuildKit's linter rules (names, descriptions, documentation URLs as in
// moby/buildkit frontend/dockerfile/linter) and the collector the dispatch walk reports to, which
// applies the `# check=` configuration.
import type { Warning } from '../../builder/frontend.js';
import type { SourceLocation } from '../../common/errors.js';

interface RuleInfo {
  description: string;
  url: string;
  /** Runs only when named in `# check=experimental=…`. */
  experimental?: boolean;
}

const ruleUrl = (kebab: string): string => `https://docs.docker.com/go/dockerfile/rule/${kebab}/`;

export const rules: Record<string, RuleInfo> = {
  StageNameCasing: { description: 'Stage names should be lowercase', url: ruleUrl('stage-name-casing') },
  FromAsCasing: { description: "The 'as' keyword should match the case of the 'from' keyword", url: ruleUrl('from-as-casing') },
  NoEmptyContinuation: { description: 'Empty continuation lines will become errors in a future release', url: ruleUrl('no-empty-continuation') },
  ConsistentInstructionCasing: { description: 'All commands within the Dockerfile should use the same casing (either upper or lower)', url: ruleUrl('consistent-instruction-casing') },
  JSONArgsRecommended: { description: 'JSON arguments recommended for ENTRYPOINT/CMD to prevent unintended behavior related to OS signals', url: ruleUrl('json-args-recommended') },
  MaintainerDeprecated: { description: 'The MAINTAINER instruction is deprecated, use a label instead to define an image author', url: ruleUrl('maintainer-deprecated') },
  UndefinedArgInFrom: { description: 'FROM command must use declared ARGs', url: ruleUrl('undefined-arg-in-from') },
  WorkdirRelativePath: { description: 'Relative workdir without an absolute workdir declared within the build can have unexpected results if the base image changes', url: ruleUrl('workdir-relative-path') },
  UndefinedVar: { description: 'Variables should be defined before their use', url: ruleUrl('undefined-var') },
  MultipleInstructionsDisallowed: { description: 'Multiple instructions of the same type should not be used in the same stage', url: ruleUrl('multiple-instructions-disallowed') },
  LegacyKeyValueFormat: { description: 'Legacy key/value format with whitespace separator should not be used', url: ruleUrl('legacy-key-value-format') },
  InvalidBaseImagePlatform: { description: 'Base image platform does not match expected target platform', url: ruleUrl('invalid-base-image-platform') },
  RedundantTargetPlatform: { description: 'Setting platform to predefined $TARGETPLATFORM in FROM is redundant as this is the default behavior', url: ruleUrl('redundant-target-platform') },
  SecretsUsedInArgOrEnv: { description: 'Sensitive data should not be used in the ARG or ENV commands', url: ruleUrl('secrets-used-in-arg-or-env') },
  InvalidDefaultArgInFrom: { description: 'Default value for global ARG results in an empty or invalid base image name', url: ruleUrl('invalid-default-arg-in-from') },
  FromPlatformFlagConstDisallowed: { description: 'FROM --platform flag should not use a constant value', url: ruleUrl('from-platform-flag-const-disallowed') },
  CopyIgnoredFile: { description: 'Attempting to Copy file that is excluded by .dockerignore', url: ruleUrl('copy-ignored-file'), experimental: true },
  ExposeProtoCasing: { description: 'Protocol in EXPOSE instruction should be lowercase', url: ruleUrl('expose-proto-casing') },
  ExposeInvalidFormat: { description: 'IP address and host-port mapping should not be used in EXPOSE instruction. This will become an error in a future release', url: ruleUrl('expose-invalid-format') },
};

export interface CheckConfig {
  skip: Set<string> | 'all';
  /** `error=true`: a build with (unskipped) warnings fails. */
  error: boolean;
  /** Experimental rules only run when named here (`experimental=A,B` or `all`). */
  experimental: Set<string> | 'all';
}

/** What the checks found, and the configuration that decides whether that fails the build. */
export interface CheckReport {
  /** In the order BuildKit emits them: file-level rules first, then stage by stage. */
  warnings: Warning[];
  checkConfig: CheckConfig;
}

/** Collects the warnings of one walk. */
export class Checks implements CheckReport {
  readonly warnings: Warning[] = [];

  constructor(readonly checkConfig: CheckConfig) {}

  enabled(rule: string): boolean {
    if (rules[rule]?.experimental) {
      const e = this.checkConfig.experimental;
      return e === 'all' || e.has(rule);
    }
    const s = this.checkConfig.skip;
    return !(s === 'all' || s.has(rule));
  }

  warn(rule: string, message: string, location: SourceLocation): void {
    if (!this.enabled(rule)) return;
    const info = rules[rule]!;
    this.warnings.push({ rule, message, location, url: info.url, description: info.description });
  }
}

/**
 * The `build --check` / `check=error=true` failure: `lint violation found for rules: A, B`, or
 * undefined when the build may go on.
 */
export function lintViolation(report: CheckReport): string | undefined {
  if (!report.checkConfig.error || report.warnings.length === 0) return undefined;
  return `lint violation found for rules: ${[...new Set(report.warnings.map((w) => w.rule))].sort().join(', ')}`;
}
