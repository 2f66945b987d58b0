#!/usr/bin/env node
// The executable's entry: answers `tsbuild --version` from this small file alone, and loads the CLI
// (yargs, the builder, the frontend: most of the bundle) only for a command. Loading and compiling
// all of it is most of tsbuild's start-up; a version check should cost no more than Node's own.

/** Set by the bundler; when running from source, "dev". */
declare const TSBUILD_VERSION: string | undefined;

const args = process.argv.slice(2);
if (args.length === 1 && args[0] === '--version') process.stdout.write(`${typeof TSBUILD_VERSION === 'string' ? TSBUILD_VERSION : 'dev'}\n`);
else await import('./main.js');
