// Word expansion at an instruction: the lexer's errors become errors located at that instruction.
import type { SourceLocation } from '../common/errors.js';
import { DockerfileError } from './errors.js';
import { ExpansionError, expandHeredoc, expandWord, expandWords, type Env, type ExpandResult } from './shell.js';

function at<T>(location: SourceLocation, expand: () => T): T {
  try {
    return expand();
  } catch (e) {
    if (e instanceof ExpansionError) throw new DockerfileError(e.code, e.message, { location, hint: e.hint, cause: e });
    throw e;
  }
}

/** One word, quotes removed. */
export function expandWordAt(word: string, env: Env, escape: string, location: SourceLocation): ExpandResult {
  return at(location, () => expandWord(word, env, escape));
}

/** Text split into words after expansion (unquoted whitespace separates them). */
export function expandWordsAt(text: string, env: Env, escape: string, location: SourceLocation): { words: string[]; unmatched: ReadonlySet<string> } {
  return at(location, () => expandWords(text, env, escape));
}

/** A heredoc body: $ substitutions only. */
export function expandHeredocAt(text: string, env: Env, escape: string, location: SourceLocation): ExpandResult {
  return at(location, () => expandHeredoc(text, env, escape));
}
