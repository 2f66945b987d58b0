// Remote sources as BuildKit spells them, shared by ADD and --build-context: git repositories
// (git@host:path, git://, ssh://, or http(s) ending in .git, each with #ref:subdir) and files over
// HTTP(S), named after the URL's last path segment.
import path from 'node:path/posix';

/** BuildKit's git URL forms (gitutil.ParseGitRef): git@host:path, git://, ssh://, or http(s) ending in .git. */
export function isGitURL(s: string): boolean {
  const base = s.split('#')[0]!;
  return /^git@[^:]+:/.test(s) || /^(git|ssh|git\+ssh):\/\//.test(s) || (/^https?:\/\//.test(s) && /\.git\/?$/.test(base));
}

/** `remote#ref:subdir` → its parts. */
export function splitGitURL(s: string): { remote: string; ref?: string; subdir?: string } {
  const hash = s.indexOf('#');
  if (hash < 0) return { remote: s };
  const [ref, subdir] = s.slice(hash + 1).split(':', 2);
  return { remote: s.slice(0, hash), ...(ref ? { ref } : {}), ...(subdir ? { subdir } : {}) };
}

/** The file name a download gets: the URL's last path segment; undefined for a malformed URL. */
export function remoteFileName(url: string): string | undefined {
  try {
    const name = path.basename(new URL(url).pathname);
    return name && name !== '/' ? decodeURIComponent(name) : 'index.html';
  } catch {
    return undefined;
  }
}
