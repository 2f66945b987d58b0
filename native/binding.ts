// Loads the compiled addon. The same module runs from source (tsx: native/) and compiled (dist/native/),
// so look for the package root rather than a fixed relative path.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);

function findAddon(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    const candidate = path.join(dir, 'native', 'build', 'Release', 'tsbuild_native.node');
    if (existsSync(candidate)) return candidate;
    dir = path.dirname(dir);
  }
  throw new Error('tsbuild native addon is not built: run `npm run build:native`');
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
let loaded: any;

// The raw addon, loaded on first use so commands that never touch it (images, inspect) work without it.
// Typed by the wrappers beside this file (container.ts, fsops.ts).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function addon(): any {
  loaded ??= require(findAddon());
  return loaded;
}
