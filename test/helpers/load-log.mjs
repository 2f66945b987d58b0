// For `node --import=<this file>`: registers itself as module hooks that append the URL of every
// module the process loads to the file $TSBUILD_LOAD_LOG names (to check what a command does not load).
import { appendFileSync } from 'node:fs';
import { register } from 'node:module';
import { isMainThread } from 'node:worker_threads';

// The hooks run in a thread of their own, where this file loads again.
if (isMainThread) register(import.meta.url);

export async function load(url, context, next) {
  appendFileSync(process.env.TSBUILD_LOAD_LOG, `${url}\n`);
  return next(url, context);
}
