// WWW-Authenticate parsing (RFC 7235 / RFC 6750): `Bearer realm="…",service="…",scope="…"`.

export interface Challenge {
  scheme: 'basic' | 'bearer' | string;
  params: Record<string, string>;
}

/** Parses one or more challenges; parameter values may be quoted (with \-escapes) or tokens. */
export function parseChallenges(header: string): Challenge[] {
  const out: Challenge[] = [];
  let i = 0;
  const s = header;
  const skipWs = (): void => {
    while (i < s.length && /[\s,]/.test(s[i]!)) i++;
  };
  while (i < s.length) {
    skipWs();
    const m = /^[A-Za-z][\w-]*/.exec(s.slice(i));
    if (!m) break;
    const scheme = m[0].toLowerCase();
    i += m[0].length;
    const params: Record<string, string> = {};
    for (;;) {
      while (i < s.length && /[ \t]/.test(s[i]!)) i++;
      const pm = /^([\w-]+)\s*=\s*/.exec(s.slice(i));
      if (!pm) break;
      i += pm[0].length;
      let value = '';
      if (s[i] === '"') {
        i++;
        while (i < s.length && s[i] !== '"') {
          if (s[i] === '\\' && i + 1 < s.length) i++;
          value += s[i++];
        }
        i++;
      } else {
        const vm = /^[^,\s]*/.exec(s.slice(i))!;
        value = vm[0];
        i += value.length;
      }
      params[pm[1]!.toLowerCase()] = value;
      while (i < s.length && /[ \t]/.test(s[i]!)) i++;
      if (s[i] === ',') {
        // A comma either separates parameters or starts the next challenge.
        const next = /^,\s*([\w-]+)\s*(=?)/.exec(s.slice(i));
        if (next && next[2] === '=') {
          i++;
          continue;
        }
        i++;
      }
      break;
    }
    out.push({ scheme, params });
  }
  return out;
}
