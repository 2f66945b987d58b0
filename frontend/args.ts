// ARG scope, as BuildKit keeps it: the automatic ARGs and the global ARGs (those before the first
// FROM) that FROM lines expand against, and per stage the declared ARGs and the ENV that its
// instructions expand against.
import type { Platform } from '../common/oci.js';
import { formatPlatform } from '../common/platform.js';
import { expandWordAt } from './expand.js';
import type { ArgInstruction } from './instructions.js';
import type { Env } from './shell.js';

/** Proxy settings reach RUN from --build-arg without an ARG, and stay out of history (BuildKit's rule). */
export const PROXY_ARGS = ['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'FTP_PROXY', 'ftp_proxy', 'NO_PROXY', 'no_proxy', 'ALL_PROXY', 'all_proxy'];

/**
 * BUILDPLATFORM & co. (this machine), TARGETPLATFORM & co. (the platform the image is for) and
 * TARGETSTAGE, predefined in the global scope (a stage must redeclare them). A --build-arg of the
 * same name overrides them, as in BuildKit.
 */
export function automaticArgs(target: Platform, build: Platform, targetStage: string, buildArgs: ReadonlyMap<string, string>): Map<string, string> {
  const m = new Map<string, string>();
  for (const [prefix, platform] of [['BUILD', build], ['TARGET', target]] as const) {
    m.set(`${prefix}PLATFORM`, formatPlatform(platform));
    m.set(`${prefix}OS`, platform.os);
    m.set(`${prefix}ARCH`, platform.architecture);
    m.set(`${prefix}VARIANT`, platform.variant ?? '');
  }
  m.set('TARGETSTAGE', targetStage);
  for (const k of m.keys()) {
    const v = buildArgs.get(k);
    if (v !== undefined) m.set(k, v);
  }
  return m;
}

/** The values FROM lines see: the automatic ARGs, then each global ARG (a --build-arg wins over its default). */
export function globalArgValues(automatic: ReadonlyMap<string, string>, globals: readonly ArgInstruction[], buildArgs: ReadonlyMap<string, string>, escape: string): Map<string, string> {
  const env = new Map(automatic);
  for (const arg of globals) {
    for (const { key, value } of arg.args) {
      const v = buildArgs.get(key) ?? (value !== undefined ? expandWordAt(value, env, escape, arg.location).value : undefined);
      if (v !== undefined) env.set(key, v);
    }
  }
  return env;
}

/** A stage's scope: what its words expand against. ENV wins over an ARG of the same name. */
export class Scope implements Env {
  constructor(
    /** ARGs declared in the stage and the stages it builds on, with their values. */
    readonly args = new Map<string, string | undefined>(),
    /** ENV, starting with the base image's. */
    readonly env = new Map<string, string>(),
    /** Every name that has a value, in the order it got one: what "did you mean" chooses from. */
    readonly names: string[] = [...env.keys()],
  ) {}

  get(name: string): string | undefined {
    return this.env.get(name) ?? this.args.get(name);
  }

  setEnv(name: string, value: string): void {
    if (this.get(name) === undefined) this.names.push(name);
    this.env.set(name, value);
  }

  setArg(name: string, value: string | undefined): void {
    if (value !== undefined && this.get(name) === undefined) this.names.push(name);
    this.args.set(name, value);
  }

  clone(): Scope {
    return new Scope(new Map(this.args), new Map(this.env), [...this.names]);
  }
}
