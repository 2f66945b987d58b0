// The rules BuildKit runs while dispatching a stage's instructions, with what the walk knows there:
// the expanded words, the stage's ARG/ENV scope (the base image's env included), its image config.
import type { SourceLocation } from '../../common/errors.js';
import { PROXY_ARGS, type Scope } from '../args.js';
import { editDistance, SUGGEST_DISTANCE } from '../suggest.js';
import type { Checks } from './rules.js';

const SECRET_RE = /(?:_|^)(?:apikey|auth|credential|credentials|key|password|pword|passwd|secret|token)(?:_|$)/i;
const SECRET_ALLOW_RE = /(?:_|^)(?:public)(?:_|$)/i;
/** Build args for BuildKit itself: never reported as undefined. */
const NON_ENV_ARGS = new Set(['BUILDKIT_SBOM_SCAN_CONTEXT', 'BUILDKIT_SBOM_SCAN_STAGE']);
/** Predefined in the global scope only: used in a stage without `ARG`, they are empty there. */
const AUTOMATIC_ARGS = new Set(['BUILDPLATFORM', 'BUILDOS', 'BUILDARCH', 'BUILDVARIANT', 'TARGETPLATFORM', 'TARGETOS', 'TARGETARCH', 'TARGETVARIANT', 'TARGETSTAGE']);
const NEVER_UNDEFINED = new Set([...NON_ENV_ARGS, ...PROXY_ARGS]);

const nameRe = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The checks of one stage's instructions (MultipleInstructionsDisallowed counts per stage). */
export class InstructionChecks {
  private readonly used = new Map<string, SourceLocation>();
  /**
   * The closest name so far for each undefined name, and how many of the scope's names it has seen:
   * a stage's scope only ever adds names, so each name is compared once.
   */
  private readonly suggestions = new Map<string, { best?: string; distance: number; seen: number }>();

  constructor(
    private readonly checks: Checks,
    /** Whether .dockerignore excludes a context path (CopyIgnoredFile); undefined without patterns. */
    private readonly ignored?: (file: string) => boolean,
  ) {}

  /**
   * UndefinedVar for a variable an instruction used that the scope lacks. With the base image's env
   * unknown (--check without an image resolver) "undefined" cannot be told from "set by the base
   * image": then only clear mistakes count, a near-miss of a known name or an automatic ARG used
   * without `ARG` in the stage.
   */
  undefinedVar(name: string, location: SourceLocation, scope: Scope, envKnown: boolean): void {
    if (!nameRe.test(name) || scope.args.has(name) || NEVER_UNDEFINED.has(name)) return;
    const hint = this.suggestion(name, scope);
    if (!envKnown && !hint && !AUTOMATIC_ARGS.has(name)) return;
    this.checks.warn('UndefinedVar', `Usage of undefined variable '$${name}'${hint ? ` (did you mean $${hint}?)` : ''}`, location);
  }

  /** suggest() over the scope's names, kept up to date as the stage defines more. */
  private suggestion(name: string, scope: Scope): string | undefined {
    let s = this.suggestions.get(name);
    if (!s) this.suggestions.set(name, (s = { distance: SUGGEST_DISTANCE + 1, seen: 0 }));
    for (; s.seen < scope.names.length; s.seen++) {
      const candidate = scope.names[s.seen]!;
      const d = editDistance(name, candidate, s.distance);
      if (d < s.distance) {
        s.best = candidate;
        s.distance = d;
      }
    }
    return s.best;
  }

  secret(instruction: 'ARG' | 'ENV', key: string, location: SourceLocation): void {
    if (SECRET_RE.test(key) && !SECRET_ALLOW_RE.test(key)) {
      this.checks.warn('SecretsUsedInArgOrEnv', `Do not use ARG or ENV instructions for sensitive data (${instruction} ${JSON.stringify(key)})`, location);
    }
  }

  legacyKeyValue(keyword: string, location: SourceLocation): void {
    this.checks.warn('LegacyKeyValueFormat', `"${keyword} key=value" should be used instead of legacy "${keyword} key value" format`, location);
  }

  /** WorkdirRelativePath: a relative WORKDIR before any absolute one in the stage chain. */
  workdir(dir: string, workdirSet: boolean, location: SourceLocation): void {
    if (!workdirSet && !dir.startsWith('/')) this.checks.warn('WorkdirRelativePath', `Relative workdir ${JSON.stringify(dir)} can have unexpected results if the base image changes`, location);
  }

  /** MultipleInstructionsDisallowed, pointing at the earlier instruction: it is the one ignored. */
  usedOnce(kind: 'CMD' | 'ENTRYPOINT' | 'HEALTHCHECK', keyword: string, location: SourceLocation): void {
    const earlier = this.used.get(kind);
    if (earlier) this.checks.warn('MultipleInstructionsDisallowed', `Multiple ${keyword} instructions should not be used in the same stage because only the last one will be used`, earlier);
    this.used.set(kind, location);
  }

  /** JSONArgsRecommended for a shell-form CMD/ENTRYPOINT when no SHELL says which shell runs it. */
  jsonArgs(keyword: string, location: SourceLocation): void {
    this.checks.warn('JSONArgsRecommended', `JSON arguments recommended for ${keyword} to prevent unintended behavior related to OS signals`, location);
  }

  /** ExposeProtoCasing and ExposeInvalidFormat for one EXPOSE word. */
  exposePort(raw: string, location: SourceLocation): void {
    const parts = raw.split(':');
    const container = parts[parts.length - 1]!;
    const slash = container.indexOf('/');
    const proto = slash >= 0 ? container.slice(slash + 1) : '';
    if (proto !== proto.toLowerCase()) this.checks.warn('ExposeProtoCasing', `Defined protocol '${raw}' in EXPOSE instruction should be lowercase`, location);
    // [ip:]hostPort:containerPort (an IPv6 ip has colons of its own)
    if (parts.length > 3 || parts.slice(0, -1).some(Boolean)) this.checks.warn('ExposeInvalidFormat', `EXPOSE instruction should not define an IP address or host-port mapping, found '${raw}'`, location);
  }

  /** CopyIgnoredFile for COPY/ADD sources from the build context. */
  copyIgnored(kind: 'COPY' | 'ADD', sources: readonly string[], location: SourceLocation): void {
    if (!this.ignored) return;
    for (const src of sources) {
      if (this.ignored(src)) this.checks.warn('CopyIgnoredFile', `Attempting to ${kind === 'ADD' ? 'Add' : 'Copy'} file ${JSON.stringify(src)} that is excluded by .dockerignore`, location);
    }
  }
}
