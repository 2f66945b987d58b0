// Unknown flags, named as the user typed them. yargs reports them only after its other checks, and an
// unknown flag takes the next word as its value (`--bogus .` eats the context), so yargs would
// complain about the missing context instead: the command line is scanned here against the
// options yargs knows, and an unknown flag is what gets reported.

/** What yargs' getOptions() says of the options of the command being parsed. */
export interface KnownOptions {
  key: Record<string, unknown>;
  alias: Record<string, string[]>;
  boolean: string[];
}

const camel = (s: string): string => s.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/** The flags of `args` (up to `--`) that are no option of `known`, each as typed (`--bogus`, `-Z`). */
export function unknownFlags(args: readonly string[], known: KnownOptions): string[] {
  const names = new Set(Object.keys(known.key));
  for (const [k, aliases] of Object.entries(known.alias)) for (const a of [k, ...aliases]) names.add(a);
  for (const n of [...names]) names.add(camel(n));
  const booleans = new Set(known.boolean);
  const isKnown = (n: string): boolean => names.has(n) || (n.startsWith('no-') && booleans.has(n.slice(3)));
  const unknown: string[] = [];
  for (const a of args) {
    if (a === '--') break;
    if (a.startsWith('--')) {
      const name = a.slice(2).split('=', 1)[0]!;
      if (name && !isKnown(name)) unknown.push(`--${name}`);
    } else if (a.length > 1 && a.startsWith('-') && !/^-\d/.test(a)) {
      // -abc is -a -b -c; a value may follow a letter after '='
      for (const letter of a.slice(1).split('=', 1)[0]!) {
        if (!isKnown(letter)) {
          unknown.push(`-${letter}`);
          break;
        }
      }
    }
  }
  return [...new Set(unknown)];
}

/**
 * yargs names an unknown flag twice, as typed and camel-cased ("Unknown arguments: cache-too,
 * cacheToo"): say it once, as the user typed it.
 */
export function asTyped(msg: string, args: readonly string[]): string {
  const m = /^Unknown arguments?: (.*)$/.exec(msg);
  if (!m) return msg;
  const names = m[1]!.split(', ');
  const typed = names.filter((n) => !names.some((o) => o !== n && o.includes('-') && camel(o) === n));
  // A flag as it was typed; anything else (an extra positional argument) as it is.
  const shown = typed.map((n) => [`--${n}`, `-${n}`].find((f) => args.some((a) => a === f || a.startsWith(`${f}=`))) ?? n);
  return unknownMessage(shown);
}

export function unknownMessage(shown: readonly string[]): string {
  return `unknown ${shown.length > 1 ? 'arguments' : 'argument'} ${shown.join(', ')}`;
}
