// .dockerignore: lines → patterns, cleaned as BuildKit (moby/patternmatcher) reads them. The context
// walk matches them in builder/patterns.ts; ignoreMatcher here is the matcher the CopyIgnoredFile
// check needs (the frontend does not import builder/ beyond the graph and the contract).
import path from 'node:path/posix';

export function parseDockerignore(content: string): string[] {
  const out: string[] = [];
  const lines = content.replace(/^\uFEFF/, '').split(/\r?\n/);
  for (const raw of lines) {
    if (raw.startsWith('#')) continue;
    let line = raw.trim();
    if (!line) continue;
    let neg = false;
    if (line.startsWith('!')) {
      neg = true;
      line = line.slice(1).trim();
    }
    if (line.length > 0) {
      line = path.normalize(line);
      if (line.startsWith('/')) line = line.replace(/^\/+/, '') || '.';
      if (line.endsWith('/') && line.length > 1) line = line.replace(/\/+$/, '');
    }
    if (!line || line === '.') {
      if (!neg) out.push('.');
      continue;
    }
    out.push(neg ? `!${line}` : line);
  }
  return out;
}

/** Which Dockerfile-specific ignore file applies: `<Dockerfile>.dockerignore` first, then the context's. */
export function dockerignoreCandidates(dockerfilePath: string, contextDir: string): string[] {
  return [`${dockerfilePath}.dockerignore`, path.join(contextDir, '.dockerignore')];
}

interface IgnorePattern {
  re: RegExp;
  dirs: number;
  exclusion: boolean;
}

function compileIgnorePattern(raw: string): IgnorePattern {
  const exclusion = raw.startsWith('!');
  const p = exclusion ? raw.slice(1) : raw;
  let re = '^';
  for (let i = 0; i < p.length; i++) {
    const c = p[i]!;
    if (c === '*') {
      if (p[i + 1] === '*') {
        i++;
        if (p[i + 1] === '/') i++;
        re += i + 1 >= p.length ? '.*' : '(?:.*/)?';
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else if (c === '\\' && i + 1 < p.length) re += p[++i]!.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    else if (c === '[') {
      const close = p.indexOf(']', i + 1);
      if (close < 0) re += '\\[';
      else {
        re += `[${p.slice(i + 1, close).replace(/^!/, '^').replace(/\\/g, '\\\\')}]`;
        i = close;
      }
    } else re += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return { re: new RegExp(`${re}$`, 's'), dirs: p.split('/').length, exclusion };
}

/** Whether a context path is excluded: last matching pattern wins; a pattern matching a parent counts. */
export function ignoreMatcher(patterns: readonly string[]): (file: string) => boolean {
  const compiled = patterns.map(compileIgnorePattern);
  return (file) => {
    let f = path.normalize(file).replace(/^(\.\/)+/, '').replace(/^\/+/, '');
    f = f.replace(/\/+$/, '');
    if (!f || f === '.') return false;
    const parent = path.dirname(f);
    const parentDirs = parent === '.' ? [] : parent.split('/');
    let matched = false;
    for (const p of compiled) {
      let m = p.re.test(f);
      if (!m && parentDirs.length > 0 && p.dirs <= parentDirs.length) m = p.re.test(parentDirs.slice(0, p.dirs).join('/'));
      if (m) matched = !p.exclusion;
    }
    return matched;
  };
}
