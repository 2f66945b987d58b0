// Path patterns in Go's filepath.Match syntax (`*` `?` `[...]` `\\x`) as regular expressions: COPY
// sources use them per component, .dockerignore patterns (moby/patternmatcher) with `**` spanning
// directories.
/** A regex for a whole path (or one component); `doubleStar` lets `**` match any number of directories. */
export function globRegExp(pattern: string, opts: { doubleStar?: boolean } = {}): RegExp {
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') {
      if (opts.doubleStar && pattern[i + 1] === '*') {
        i++;
        if (pattern[i + 1] === '/') i++;
        re += i + 1 >= pattern.length ? '.*' : '(.*/)?';
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else if (c === '\\' && i + 1 < pattern.length) re += `\\${pattern[++i]}`;
    else if (c === '[') {
      const close = pattern.indexOf(']', i + 1);
      if (close < 0) re += '\\[';
      else {
        re += `[${pattern.slice(i + 1, close).replace(/^!/, '^')}]`;
        i = close;
      }
    } else if ('.+()|{}$^'.includes(c)) re += `\\${c}`;
    else re += c;
  }
  return new RegExp(`${re}$`, 's');
}
