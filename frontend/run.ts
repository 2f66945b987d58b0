// RUN: an exec vertex on the stage's rootfs, with the stage's ENV and ARGs as environment, its
// working directory and user, and its mounts (heredoc scripts, --mount).
import type { ExecMount, Vertex } from '../builder/graph.js';
import { PROXY_ARGS } from './args.js';
import { envToList } from './metadata.js';
import type { RunInstruction } from './instructions.js';
import { execMount } from './mounts.js';
import type { Dispatch } from './state.js';

const HOSTNAME = 'buildkitsandbox';

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export function dispatchRun(d: Dispatch, i: RunInstruction): void {
  const { state } = d;
  const { scope, shell } = state;
  let args: string[];
  let display: string;
  const mounts: ExecMount[] = [];
  const inputs: Vertex[] = [state.vertex];
  if (i.json) {
    args = i.json;
    display = i.json.join(' ');
  } else if (i.heredocs.length > 0) {
    const h = i.heredocs[0]!;
    const only = i.heredocs.length === 1 && new RegExp(`^<<-?\\s*(["']?)${escapeRegExp(h.name)}\\1\\s*$`).test(i.text.trim());
    if (only && h.content.startsWith('#!')) {
      // A script with its own interpreter: BuildKit mounts it as a file and runs it.
      const target = `/dev/pipes/${h.name}`;
      mounts.push({ type: 'file', target, data: h.content, mode: 0o755 });
      args = [target];
    } else if (only) {
      // The shell runs the document itself (expansion is the shell's business).
      args = [...shell, h.content];
    } else {
      // Heredocs among other words: hand the shell the whole text to parse.
      args = [...shell, i.text + i.heredocs.map((doc) => `\n${doc.content}${doc.name}`).join('')];
    }
    display = i.text;
  } else {
    args = [...shell, i.text];
    display = `${shell.join(' ')} ${i.text}`;
  }
  // ARGs reach RUN as environment (ENV of the same name wins); proxies even undeclared.
  const env = new Map<string, string>();
  const argEnv: string[] = [];
  for (const [k, v] of scope.args) {
    if (v !== undefined && !scope.env.has(k)) env.set(k, v);
    // History lists every declared ARG; an ENV of the same name shows its value.
    argEnv.push(`${k}=${scope.env.get(k) ?? v ?? ''}`);
  }
  if (d.buildArgs.size) {
    for (const p of PROXY_ARGS) {
      const v = d.buildArgs.get(p);
      if (v !== undefined && !scope.args.has(p)) env.set(p, v);
    }
  }
  for (const [k, v] of scope.env) env.set(k, v);
  const cwd = state.config.WorkingDir || '/';
  if (i.mounts.length) {
    const ctx = {
      expand: (value: string) => d.expand(value),
      fail: (message: string, hint: string): never => d.fail(message, hint),
      input: (from: string | undefined, defaultContext: boolean): number | undefined => {
        if (from === undefined && !defaultContext) return undefined;
        inputs.push(from === undefined ? d.context : d.from(from));
        return inputs.length - 1;
      },
      cwd,
      sshIndex: 0,
    };
    for (const spec of i.mounts) mounts.push(execMount(spec, ctx));
  }
  // The build's --shm-size, --add-host and --ulimit go into every RUN's definition (so its cache key),
  // as dockerfile2llb does; an explicit RUN --network=default still takes the build's --network.
  const { exec } = d;
  if (exec.shmSize) mounts.push({ type: 'tmpfs', target: '/dev/shm', size: exec.shmSize });
  const vertex = d.commit(
    {
      kind: 'exec',
      args,
      env: envToList(env),
      cwd,
      user: state.config.User ?? '',
      network: i.network === 'default' ? (exec.network ?? 'default') : i.network,
      hostname: HOSTNAME,
      ...(exec.extraHosts?.length ? { extraHosts: [...exec.extraHosts] } : {}),
      ...(exec.ulimits?.length ? { ulimits: [...exec.ulimits] } : {}),
      ...(mounts.length ? { mounts } : {}),
      ...(i.security === 'insecure' ? { insecure: true } : {}),
    },
    inputs,
    `RUN ${display.replace(/\n/g, '\\n')}`.replace(/^RUN \/bin\/sh -c /, 'RUN '),
  );
  const fromArgs = [...env.keys()].filter((k) => !scope.env.has(k));
  if (fromArgs.length) vertex.argNames = fromArgs;
  const argPrefix = argEnv.length ? `|${argEnv.length} ${argEnv.join(' ')} ` : '';
  state.history.push({ createdBy: `RUN ${argPrefix}${i.heredocs.length ? `${shell.join(' ')} ${i.text}` : display} # buildkit`, vertex });
}
