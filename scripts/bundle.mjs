// Bundles the CLI into one ESM file: loading ~80 modules through Node's ESM loader cost ~150 ms of
// every invocation; one file costs ~70 ms. tsc still type-checks (npm run build:ts).
import { build } from 'esbuild';
import { readFileSync, rmSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
// Chunk names carry a content hash: drop the last build's, or they pile up.
rmSync(new URL('../dist/chunks', import.meta.url), { recursive: true, force: true });
await build({
  // Code splitting: what is imported dynamically (the registry's HTTP client, the TTY view) loads only when used.
  entryPoints: { tsbuild: 'cmd/main.ts' },
  outdir: 'dist',
  outExtension: { '.js': '.mjs' },
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: 'linked',
  logLevel: 'warning',
  // React's production build (its development one checks and warns on every render).
  define: { TSBUILD_VERSION: JSON.stringify(pkg.version), 'process.env.NODE_ENV': '"production"' },
  // ink imports React's devtools only when DEV=true is set; it is an optional peer, not installed.
  external: ['react-devtools-core'],
  // Some dependencies are CommonJS and call require(): give the bundle one.
  banner: { js: "import { createRequire as __tsbuildRequire } from 'node:module'; const require = __tsbuildRequire(import.meta.url);" },
});
