// Builds native/ offline. node-gyp downloads Node's headers unless told where they are, so pass
// --nodedir explicitly: the running node's prefix when it ships headers, else npm_config_nodedir.
// If neither has node_api.h, fall back to plain g++ with the node-api-headers package.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const nativeDir = path.join(root, 'native');
const hasHeaders = (dir) => dir && existsSync(path.join(dir, 'include', 'node', 'node_api.h'));
const candidates = [process.env.npm_config_nodedir, path.resolve(process.execPath, '..', '..'), '/usr'];
const nodedir = candidates.find(hasHeaders);

// binding.gyp (plain JSON here) is the one list of sources.
function gypSources() {
  return JSON.parse(readFileSync(path.join(nativeDir, 'binding.gyp'), 'utf8')).targets[0].sources;
}

if (nodedir) {
  const gyp = require.resolve('node-gyp/bin/node-gyp.js');
  execFileSync(process.execPath, [gyp, 'rebuild', `--directory=${nativeDir}`, `--nodedir=${nodedir}`, '--loglevel=warn'], { stdio: 'inherit' });
} else {
  const out = path.join(nativeDir, 'build', 'Release');
  mkdirSync(out, { recursive: true });
  execFileSync('g++', ['-std=c++17', '-O2', '-fPIC', '-shared', '-fvisibility=hidden',
    `-I${require('node-api-headers').include_dir}`, `-I${require('node-addon-api').include_dir}`,
    '-DNAPI_VERSION=8', '-DNAPI_CPP_EXCEPTIONS', '-o', path.join(out, 'tsbuild_native.node'),
    ...gypSources().map((f) => path.join(nativeDir, f))], { stdio: 'inherit' });
}
