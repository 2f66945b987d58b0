// COPY and ADD: a file vertex copying from the build context, another stage, an image, heredocs
// or (ADD) a URL or git repository, into the stage's rootfs.
import path from 'node:path/posix';
import type { CopyAction, Vertex } from '../builder/graph.js';
import { parseFileMode } from '../common/filemode.js';
import { isGitURL, remoteFileName, splitGitURL } from '../common/remoteurl.js';
import type { CopyInstruction } from './instructions.js';
import { splitUser } from './metadata.js';
import type { Dispatch } from './state.js';

/** `COPY <<EOF /file`: the delimiter of a heredoc source word. */
const heredocSource = (w: string): string | undefined => /^<<-?(["']?)([^"'\s]+)\1$/.exec(w)?.[2];

export function dispatchCopy(d: Dispatch, i: CopyInstruction): void {
  const { state } = d;
  const what = i.kind;
  const isAdd = what === 'ADD';
  const words = i.json ? i.json.map((w) => d.expand(w)) : d.expandWords(i.text);
  if (words.length < 2) d.fail(`${what} requires at least two arguments, but only one was provided`, `${what} <src>... <dest>`);
  const dest0 = words[words.length - 1]!;
  const srcs = words.slice(0, -1);
  const wd = state.config.WorkingDir || '/';
  let dest = dest0.startsWith('/') ? dest0 : path.join(wd, dest0);
  if ((dest0.endsWith('/') || dest0 === '.' || dest0.endsWith('/.')) && !dest.endsWith('/')) dest += '/';

  // Heredoc sources become files named after their delimiter.
  const inline = !i.heredocs.length ? [] : srcs.flatMap((w) => {
    const name = heredocSource(w);
    if (!name) return [];
    const h = i.heredocs.find((doc) => doc.name === name);
    if (!h) d.fail(`no heredoc named ${name}`, `add the document: a line <<${name} … ending with a line ${name}`);
    return [{ name, data: h.expand ? d.expandHeredoc(h.content) : h.content }];
  });
  if (inline.length && inline.length !== srcs.length) d.fail(`${what} cannot mix heredocs and other sources yet`, 'use one instruction for each');

  // (URLs and git@host: sources have a colon; most sources have none)
  const remote = srcs.some((s) => s.includes(':'));
  const gitUrls = remote ? srcs.filter(isGitURL) : [];
  const urls = remote ? srcs.filter((s) => /^https?:\/\//.test(s) && !gitUrls.includes(s)) : [];
  if (!isAdd && (urls.length || gitUrls.length)) d.fail('COPY cannot copy from a URL', 'use ADD for URLs');
  if ((urls.length || gitUrls.length) && urls.length + gitUrls.length !== srcs.length) d.fail('ADD cannot mix URLs and local sources yet', 'use one ADD for each');
  if (gitUrls.length > 1 || (gitUrls.length && urls.length)) d.fail('ADD of several remote sources in one instruction is not supported yet', 'use one ADD per URL');

  let from: Vertex = d.context;
  /** The name a download gets in the copy's source. */
  let downloaded: string | undefined;
  if (i.from !== undefined) {
    if (!i.from) d.fail('--from requires a stage name, index or image', '--from=<stage name or index, or image>');
    from = d.from(i.from);
  } else if (gitUrls.length) {
    const { remote, ref, subdir } = splitGitURL(gitUrls[0]!);
    from = d.source({ type: 'git', remote, ...(ref ? { ref } : {}), ...(subdir ? { subdir } : {}), keepGitDir: i.keepGitDir }, `[internal] load git source ${gitUrls[0]}`);
  } else if (urls.length) {
    const checksum = i.checksum !== undefined ? d.expand(i.checksum) : undefined;
    if (checksum !== undefined && !/^sha256:[a-f0-9]{64}$/.test(checksum)) d.fail(`invalid --checksum "${i.checksum}"`, 'use sha256:<64 hex digits>');
    if (urls.length > 1) d.fail('ADD of several URLs in one instruction is not supported yet', 'use one ADD per URL');
    const url = urls[0]!;
    downloaded = remoteFileName(url) ?? d.fail(`invalid URL "${url}"`, 'ADD takes http(s)://host/path URLs');
    from = d.source({ type: 'http', url, filename: downloaded, ...(checksum ? { checksum: checksum as `sha256:${string}` } : {}) }, `[internal] load remote file ${url}`);
  } else if (!inline.length) {
    for (const s of srcs) {
      if (path.normalize(s).startsWith('..')) {
        d.fail(`${what} source "${s}" is outside the build context`, 'paths are relative to the context directory; move the file into the context or use a parent directory as the context');
      }
    }
    d.checks.copyIgnored(what, srcs, i.location);
  }

  const chown = i.chown !== undefined ? splitUser(d.expand(i.chown)) : undefined;
  const chmodText = i.chmod !== undefined ? d.expand(i.chmod) : undefined;
  const chmod = chmodText !== undefined ? parseFileMode(chmodText) : undefined;
  if (chmodText !== undefined && !chmod) d.fail(`invalid --chmod value "${chmodText}"`, 'use an octal mode such as 755, or a symbolic one such as u=rwX,go=rX');
  const excludes = i.excludes.map((e) => d.expand(e));
  // ADD unpacks local archives; URLs only with --unpack (BuildKit's rule).
  const unpack = isAdd && (i.unpack ?? urls.length === 0);
  const action: CopyAction = {
    type: 'copy',
    from: inline.length ? 0 : 1,
    src: gitUrls.length ? ['/'] : downloaded ? [downloaded] : inline.length ? inline.map((f) => f.name) : srcs,
    dest,
    ...(chown ? { chown } : {}),
    ...(chmod ? { chmod } : {}),
    ...(excludes.length ? { excludes } : {}),
    ...(inline.length ? { inline } : {}),
    ...(unpack ? { unpack } : {}),
    ...(i.parents ? { parents: true } : {}),
  };
  const flagText = i.flagText.length ? `${i.flagText.join(' ')} ` : '';
  const args = `${srcs.join(' ')} ${dest0}`;
  const vertex = d.commit({ kind: 'file', actions: [action] }, inline.length ? [state.vertex] : [state.vertex, from], `${what} ${flagText}${args}`);
  state.history.push({ createdBy: `${what} ${args} # buildkit`, vertex });
}
