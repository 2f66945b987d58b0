// yargs lays out its whole help text as soon as a named command's handler has started (command.js
// calls cacheHelpMessage, so that a later asynchronous failure can print it). tsbuild's failures never
// print yargs' help, and that layout (string widths of every option line) cost ~40 ms of every build.
import type { Argv } from 'yargs';

interface UsageInternals {
  cacheHelpMessage?: () => void;
}

/** y, without the eager help layout; `--help` still lays it out when asked. */
export function withoutHelpCache<T>(y: Argv<T>): Argv<T> {
  // An internal of yargs 17/18: if a later version lacks it, this does nothing and only costs time.
  const usage = (y as unknown as { getInternalMethods?(): { getUsageInstance?(): UsageInternals } }).getInternalMethods?.().getUsageInstance?.();
  if (usage && typeof usage.cacheHelpMessage === 'function') usage.cacheHelpMessage = () => {};
  return y;
}
