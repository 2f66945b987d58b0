// .dockerignore: which file applies and its lines → patterns, cleaned as BuildKit (moby/patternmatcher)
// reads them. The builder reads the file; the frontend parses it into the context source's excludes;
// both the context walk and the CopyIgnoredFile check match them with patterns.ts.
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

/** `<Dockerfile>.dockerignore` beside a Dockerfile wins over the context's `.dockerignore`, as in BuildKit. */
export function dockerignoreCandidates(dockerfilePath: string, contextDir: string): string[] {
  return [`${dockerfilePath}.dockerignore`, path.join(contextDir, '.dockerignore')];
}
