// Bundles the CLI into one ESM file: loading ~80 modules through Node's ESM loader cost ~150 ms of
// every invocation; one file costs ~70 ms. tsc still type-checks (npm run build:ts).
import { build } from 'esbuild';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';

// yargs imports its help layout (cliui, string-width) at load; their Unicode tables and regexes
// cost ~30 ms at start-up although only --help uses them. Its imports of them get a wrapper that
// loads them on first call (esbuild evaluates a require()d module lazily, at that call).
const lazyHelpLayout = {
  name: 'lazy-help-layout',
  setup(b) {
    const shim = `${path.sep}yargs${path.sep}lib${path.sep}platform-shims${path.sep}`;
    b.onResolve({ filter: /^(cliui|string-width)$/ }, (a) => (a.importer.includes(shim) ? { path: a.path, namespace: 'lazy-help', pluginData: a.resolveDir } : undefined));
    b.onLoad({ filter: /.*/, namespace: 'lazy-help' }, (a) => ({
      contents: `export default (...args) => require(${JSON.stringify(a.path)}).default(...args);`,
      resolveDir: a.pluginData,
      loader: 'js',
    }));
  },
};

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
// Chunk names carry a content hash: drop the last build's, or they pile up.
rmSync(new URL('../dist/chunks', import.meta.url), { recursive: true, force: true });
await build({
  // Code splitting: what is imported dynamically (the registry's HTTP client, the TTY view) loads only when used.
  entryPoints: { tsbuild: 'cmd/bin.ts' },
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
  plugins: [lazyHelpLayout],
  // Some dependencies are CommonJS and call require(): give the bundle one.
  banner: { js: "import { createRequire as __tsbuildRequire } from 'node:module'; const require = __tsbuildRequire(import.meta.url);" },
});
