// ADD <git url> and --build-context NAME=<git url>: resolves a ref to a commit (that commit, not
// the ref, goes into the cache key), then fetches just that commit into scratch space. Needs git.
import { TsbuildError } from '../common/errors.js';
import { execFile } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { GitSource } from './graph.js';

export class GitError extends TsbuildError {
  constructor(message: string, hint?: string) {
    super('TSB_REMOTE', message, hint !== undefined ? { hint } : {});
  }
}

function git(args: string[], cwd?: string, signal?: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('git', args, { cwd, signal, env: { ...process.env, GIT_TERMINAL_PROMPT: '0' }, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (!err) return resolve(stdout);
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return reject(new GitError('a git source (ADD, --build-context) needs git, which is not installed', 'install git (apt-get install git)'));
      reject(new GitError(`git ${args[0]} ${args.filter((a) => !a.startsWith('-')).slice(1).join(' ')}: ${stderr.trim().split('\n').pop() ?? err.message}`, 'check the repository URL, and that git reaches it from here (git ls-remote URL)'));
    });
  });
}

/** The commit a ref names on the remote (a full commit id is taken as it is). */
export async function resolveCommit(s: GitSource, signal?: AbortSignal): Promise<string> {
  if (s.ref && /^[0-9a-f]{40}$/.test(s.ref)) return s.ref;
  const ref = s.ref ?? 'HEAD';
  const out = await git(['ls-remote', s.remote, ref, `refs/tags/${ref}^{}`], undefined, signal);
  const lines = out.trim().split('\n').filter(Boolean).map((l) => l.split('\t') as [string, string]);
  // An annotated tag's peeled commit (^{}) wins over the tag object.
  const hit = lines.find(([, name]) => name.endsWith('^{}')) ?? lines[0];
  if (!hit) throw new GitError(`git ref "${ref}" not found in ${s.remote}`, 'check the branch, tag or commit after # in the URL');
  return hit[0];
}

/** A checkout of `commit` in `dir`; returns the directory ADD copies from (the subdir, if any). */
export async function checkout(s: GitSource, commit: string, dir: string, signal?: AbortSignal): Promise<string> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  await git(['init', '-q'], dir, signal);
  await git(['fetch', '-q', '--depth', '1', s.remote, commit], dir, signal).catch(async () => {
    // Some servers refuse fetching a commit by id: fetch the ref and check it resolves there.
    await git(['fetch', '-q', '--depth', '1', s.remote, s.ref ?? 'HEAD'], dir, signal);
  });
  await git(['-c', 'advice.detachedHead=false', 'checkout', '-q', commit], dir, signal);
  if (!s.keepGitDir) await rm(path.join(dir, '.git'), { recursive: true, force: true });
  const sub = s.subdir ? path.join(dir, path.normalize(`/${s.subdir}`)) : dir;
  return sub;
}
