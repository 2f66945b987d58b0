// The instructions that change a stage's scope or image config (and WORKDIR, which also makes the
// directory): what BuildKit's dispatchEnv, dispatchArg, dispatchCmd... do, history entries included.
import path from 'node:path/posix';
import type { Chown } from '../builder/graph.js';
import { formatDuration } from './duration.js';
import type { ArgInstruction, CommandInstruction, HealthcheckInstruction, KeyValueInstruction, ListInstruction, OnbuildInstruction, ShellInstruction, WordInstruction } from './instructions.js';
import type { Dispatch } from './state.js';

/** Go's %v of a string slice: `[a b]`, as BuildKit writes SHELL and VOLUME history. */
function goList(a: readonly string[]): string {
  return `[${a.join(' ')}]`;
}

/** Go's %q-style rendering of a string slice, as BuildKit writes CMD/ENTRYPOINT history. */
function goSlice(a: readonly string[]): string {
  return `[${a.map((s) => JSON.stringify(s)).join(' ')}]`;
}

export function envToList(m: ReadonlyMap<string, string>): string[] {
  return [...m].map(([k, v]) => `${k}=${v}`);
}

/** USER and --chown values: `user[:group]`. */
export function splitUser(s: string): Chown {
  const i = s.indexOf(':');
  return i >= 0 ? { user: s.slice(0, i), group: s.slice(i + 1) } : { user: s };
}

export function dispatchArg(d: Dispatch, i: ArgInstruction): void {
  const { scope } = d.state;
  // Every default expands in the scope from before the instruction, as BuildKit's frontend did.
  const defaults = i.args.map(({ value }) => (value !== undefined ? d.expand(value) : undefined));
  i.args.forEach(({ key }, k) => {
    d.checks.secret('ARG', key, i.location);
    scope.setArg(key, d.buildArgs.get(key) ?? defaults[k] ?? d.globals.get(key));
  });
  d.state.history.push({ createdBy: `ARG ${i.args.map(({ key }, k) => `${key}${defaults[k] !== undefined ? `=${defaults[k]}` : ''}`).join(' ')}` });
}

/** ENV and LABEL: every word expands in the scope from before the instruction. */
export function dispatchKeyValues(d: Dispatch, i: KeyValueInstruction): void {
  if (i.legacy) d.checks.legacyKeyValue(i.keyword, i.location);
  const pairs = i.pairs.map(({ key, value }) => {
    const k = d.expand(key);
    if (!k) d.fail(`${i.kind} names can not be blank`, `${i.kind} <key>=<value>`);
    return [k, d.expand(value)] as const;
  });
  const { state } = d;
  if (i.kind === 'ENV') {
    for (const [k, v] of pairs) {
      d.checks.secret('ENV', k, i.location);
      state.scope.setEnv(k, v);
    }
    state.envEdited = true;
  } else {
    const labels = (state.config.Labels ??= {});
    for (const [k, v] of pairs) labels[k] = v;
  }
  state.history.push({ createdBy: `${i.kind} ${pairs.map(([k, v]) => `${k}=${v}`).join(' ')}` });
}

export function dispatchWorkdir(d: Dispatch, i: WordInstruction): void {
  const { state } = d;
  const dir = d.expand(i.word);
  if (!dir) d.fail('WORKDIR requires exactly one argument', 'WORKDIR /path');
  d.checks.workdir(dir, state.workdirSet, i.location);
  state.workdirSet = true;
  // An absolute path is kept as written (BuildKit keeps /w/); a relative one is joined and cleaned.
  const abs = dir.startsWith('/') ? dir : path.resolve(state.config.WorkingDir || '/', dir);
  state.config.WorkingDir = abs;
  if (path.normalize(abs) === '/') {
    // The root always exists: BuildKit makes no step (and no layer) for it.
    state.history.push({ createdBy: `WORKDIR ${abs}` });
    return;
  }
  const chown = state.config.User ? splitUser(state.config.User) : undefined;
  const vertex = d.commit({ kind: 'file', actions: [{ type: 'mkdir', path: path.normalize(abs), mode: 0o755, parents: true, ...(chown ? { chown } : {}) }] }, [state.vertex], `WORKDIR ${abs}`);
  state.history.push({ createdBy: `WORKDIR ${abs}`, vertex });
}

const SIGNALS = new Set(['ABRT', 'ALRM', 'BUS', 'CHLD', 'CLD', 'CONT', 'FPE', 'HUP', 'ILL', 'INT', 'IO', 'IOT', 'KILL', 'PIPE', 'POLL', 'PROF', 'PWR', 'QUIT', 'SEGV', 'STKFLT', 'STOP', 'SYS', 'TERM', 'TRAP', 'TSTP', 'TTIN', 'TTOU', 'URG', 'USR1', 'USR2', 'VTALRM', 'WINCH', 'XCPU', 'XFSZ', 'RTMIN', 'RTMAX']);

/** A Linux signal by name (with or without SIG, RTMIN+n / RTMAX-n) or number, as moby's signal parser takes. */
function isSignal(s: string): boolean {
  if (/^\d+$/.test(s)) return Number(s) > 0 && Number(s) <= 64;
  const name = s.toUpperCase().replace(/^SIG/, '');
  return SIGNALS.has(name) || /^RTMIN\+([1-9]|1[0-5])$/.test(name) || /^RTMAX-([1-9]|1[0-4])$/.test(name);
}

/** USER, STOPSIGNAL and MAINTAINER (WORKDIR makes a directory: dispatchWorkdir). */
export function dispatchWord(d: Dispatch, i: WordInstruction): void {
  const { state } = d;
  if (i.kind === 'MAINTAINER') {
    // Not expanded, as in BuildKit.
    state.author = i.word;
    state.history.push({ createdBy: `MAINTAINER ${i.word}` });
    return;
  }
  const value = d.expand(i.word);
  if (i.kind === 'USER') {
    if (!value) d.fail('USER requires exactly one argument', 'USER <user>[:<group>]');
    state.config.User = value;
  } else {
    if (!isSignal(value)) d.fail(`invalid signal "${value}"`, 'use a signal name such as SIGTERM (or TERM) or a number');
    state.config.StopSignal = value;
  }
  state.history.push({ createdBy: `${i.kind} ${value}` });
}

const portRe = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/i;

export function dispatchExpose(d: Dispatch, i: ListInstruction): void {
  const { state } = d;
  const ports = d.expandWords(i.text);
  if (ports.length === 0) d.fail('EXPOSE requires at least one argument', 'EXPOSE <port>[/<protocol>]');
  const exposed = (state.config.ExposedPorts ??= {});
  const mine: string[] = [];
  const seen = new Map<string, Uint8Array>();
  for (const p of ports) {
    d.checks.exposePort(p, i.location);
    // [ip:][hostPort:]port: only the container port is exposed (BuildKit reads it as docker run -p).
    const m = portRe.exec(p.slice(p.lastIndexOf(':') + 1));
    if (!m) d.fail(`invalid port "${p}" in EXPOSE`, 'EXPOSE takes <port>[/tcp|/udp] or a range like 8000-8010');
    const proto = (m[3] ?? 'tcp').toLowerCase();
    const from = Number(m[1]);
    const to = m[2] ? Number(m[2]) : from;
    // As BuildKit's port parser: 16-bit ports, ranges low to high (a huge number would also never end the loop).
    if (from > 65535 || to > 65535) d.fail(`invalid port "${p}" in EXPOSE: a port is at most 65535`, 'EXPOSE takes <port>[/tcp|/udp] or a range like 8000-8010');
    if (to < from) d.fail(`invalid port range "${p}" in EXPOSE: the end is below the start`, 'write the range low to high, like 8000-8010');
    // Each port once per line: a line repeating a wide range (the fuzzer's 700 × 1-40000) costs
    // a byte test per port named, not a string.
    let named = seen.get(proto);
    if (!named) seen.set(proto, (named = new Uint8Array(65536)));
    for (let port = from; port <= to; port++) {
      if (named[port]) continue;
      named[port] = 1;
      exposed[`${port}/${proto}`] = {};
      mine.push(`${port}/${proto}`);
    }
  }
  const keys = mine.sort();
  state.history.push({ createdBy: `EXPOSE map[${keys.map((k) => `${k}:{}`).join(' ')}]` });
}

export function dispatchVolume(d: Dispatch, i: ListInstruction): void {
  const { state } = d;
  const volumes = i.json ? i.json.map((v) => d.expand(v)) : d.expandWords(i.text);
  if (volumes.length === 0) d.fail('VOLUME requires at least one argument', 'VOLUME /path ...');
  const declared = (state.config.Volumes ??= {});
  for (const v of volumes) declared[v] = {};
  state.history.push({ createdBy: `VOLUME ${goList(volumes)}` });
}

/** CMD and ENTRYPOINT: shell form runs in the stage's SHELL. */
export function dispatchCommand(d: Dispatch, i: CommandInstruction): void {
  const { state } = d;
  d.checks.usedOnce(i.kind, i.keyword, i.location);
  if (!i.json && !state.config.Shell?.length) d.checks.jsonArgs(i.keyword, i.location);
  const args = i.json ?? [...state.shell, i.text];
  if (i.kind === 'CMD') {
    state.config.Cmd = args;
    // Deprecated in the OCI spec, but BuildKit sets it on every CMD for Docker's sake.
    state.config.ArgsEscaped = true;
    state.cmdSet = true;
  } else {
    state.config.Entrypoint = args;
    if (!state.cmdSet) state.config.Cmd = null;
  }
  state.history.push({ createdBy: `${i.kind} ${goSlice(args)}` });
}

export function dispatchShell(d: Dispatch, i: ShellInstruction): void {
  const { state } = d;
  state.shell = i.shell;
  state.config.Shell = i.shell;
  state.history.push({ createdBy: `SHELL ${goList(i.shell)}` });
}

export function dispatchHealthcheck(d: Dispatch, i: HealthcheckInstruction): void {
  const { state } = d;
  d.checks.usedOnce('HEALTHCHECK', i.keyword, i.location);
  const hc = i.healthcheck;
  state.config.Healthcheck = hc;
  const durations = [hc.Interval, hc.Timeout, hc.StartPeriod, hc.StartInterval].map((ns) => `"${formatDuration(ns)}"`).join(' ');
  state.history.push({ createdBy: `HEALTHCHECK &{${goSlice(hc.Test ?? [])} ${durations} '\\x${(hc.Retries ?? 0).toString(16).padStart(2, '0')}'}` });
}

/** ONBUILD records the trigger for stages built on this one. */
export function dispatchOnbuild(d: Dispatch, i: OnbuildInstruction): void {
  d.state.config.OnBuild = [...(d.state.config.OnBuild ?? []), i.trigger];
}
